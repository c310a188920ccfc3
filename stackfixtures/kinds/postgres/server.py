"""postgres: a real PostgreSQL server, ready when SELECT 1 runs, stopped by its own fast
shutdown. Its per-test template database is built by the `postgres_template` task the project
adds beside it (template.py), which sets `template_id` on this handle."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

from ...kind_api import (
    Handle,
    OptionsView,
    ServiceContext,
    probes,
    service,
    spawn,
    stop,
)
from .binaries import find_binaries, parse_version, server_version
from .cluster import (
    clear_stale_lock,
    prepare_data_dir,
    socket_dir,
    unprivileged_user,
)
from .connect import READY_LINE, WireProbe, _psycopg, ensure_database_on, server_handle
from .from_image import from_image
from .pruning import HomePruning

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
    if run_as:
        ctx.log.write(f"[stackfixtures] running as root: PostgreSQL runs as OS user {run_as!r}")
    pgdata = await prepare_data_dir(ctx, cfg, server, initdb, run_as)
    host, port = ctx.host, ctx.port
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
    if importlib.util.find_spec("psycopg") is None:  # (the database made, templates, clones)
        _psycopg()  # say so now, not once a database is to be made
    # Ready when the server says so in its log, then runs SELECT 1 (over its own protocol: no
    # psycopg to import first), which also tells its version: no `postgres --version` to run.
    answered = WireProbe(host, port, cfg.user, cfg.password)
    ready = probes.all_(probes.log(READY_LINE), answered)
    pruning = HomePruning(ctx, run_as)  # old homes: 2 s after the spawn (pruning.py)
    try:
        async with spawn(
            argv, ready=ready, user=run_as, cwd=pgdata.parent, stop=stop("SIGINT", grace=30)
        ) as proc:
            said = answered.parameters.get("server_version")
            version = parse_version(f"(PostgreSQL) {said}") if said else None
            version = version or await server_version(server)
            ctx.log.write(f"[stackfixtures] PostgreSQL {version} from {origin}: {server}")
            await ensure_database_on(host, port, cfg.user, cfg.password, cfg.dbname)
            yield server_handle(
                cfg,
                host,
                port,
                version,
                socket_dir=str(sockets),
                data_dir=str(pgdata),
                pid=proc.pid,
            )
    finally:  # the pruning is halted at the stop (it may take seconds where many homes
        await pruning.stop()  # are): one home's removal at most
