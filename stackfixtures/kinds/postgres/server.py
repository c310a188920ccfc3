"""postgres: a real PostgreSQL server, ready when SELECT 1 runs, stopped by its own fast
shutdown. Its per-test template database is built by the `postgres_template` task the project
adds beside it (template.py), which sets `template_id` on this handle."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import AsyncIterator

from ...kind_api import (
    Handle,
    OptionsView,
    ServiceContext,
    cancel_and_wait_out,
    probes,
    service,
    spawn,
    stop,
)
from .binaries import find_binaries, server_version
from .cluster import clear_stale_lock, prepare_data_dir, socket_dir, unprivileged_user
from .connect import READY_LINE, _psycopg, dsn, ensure_database, server_handle, sql_probe
from .from_image import from_image

OPTIONS = "stackfixtures.kinds.postgres.options:PostgresConfig"
"""Its options model (options.py), named: validation imports it, a start need not (the service
reads its options as plain data: OptionsView)."""


@service(config=OPTIONS)
async def postgres(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """PostgreSQL: ready when SELECT 1 runs; stopped by its own fast shutdown (SIGINT)."""
    cfg = OptionsView.of(ctx.definition)
    if cfg.source == "container":
        async with from_image(ctx, cfg) as handle:
            yield handle
        return
    server, initdb, origin = find_binaries(cfg.bin_dir, cfg.source)
    run_as = unprivileged_user(cfg.run_as)
    version = await server_version(server)
    ctx.log.write(f"[stackfixtures] PostgreSQL {version} from {origin}: {server}")
    if run_as:
        ctx.log.write(f"[stackfixtures] running as root: PostgreSQL runs as OS user {run_as!r}")
    pgdata = await prepare_data_dir(ctx, cfg, server, initdb, run_as)
    host, port = ctx.host, ctx.port
    maintenance = dsn(host, port, cfg.user, "postgres", cfg.password)
    sockets = socket_dir(ctx, run_as)
    clear_stale_lock(ctx, pgdata, sockets / f".s.PGSQL.{port}.lock")  # (the chaos bench's)
    argv = [
        str(server),
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={host}",
        "-c",
        f"unix_socket_directories={sockets}",
        "-c",
        "logging_collector=off",
        "-c",
        "lc_messages=C",
    ]
    for key, value in cfg.settings.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        argv += ["-c", f"{key}={text}"]
    if importlib.util.find_spec("psycopg") is None:  # say so now, not after a probe timeout
        _psycopg()
    preload = asyncio.ensure_future(asyncio.to_thread(_psycopg))  # while the server starts
    ready = probes.all_(probes.log(READY_LINE), sql_probe(maintenance))
    try:
        async with spawn(
            argv, ready=ready, user=run_as, cwd=pgdata.parent, stop=stop("SIGINT", grace=30)
        ) as proc:
            await preload
            await ensure_database(maintenance, cfg.dbname)
            yield server_handle(
                cfg,
                host,
                port,
                version,
                socket_dir=str(sockets),
                data_dir=str(pgdata),
                pid=proc.pid,
            )
    finally:  # a spawn that failed leaves the import running: its thread awaited to its end
        await cancel_and_wait_out([], wait_out=[preload])
