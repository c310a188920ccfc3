"""postgres: a real PostgreSQL server, ready when SELECT 1 runs, stopped by its own fast
shutdown. Its per-test template database is built by the `postgres_template` task the project
adds beside it (template.py), which sets `template_id` on this handle."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from ...errors import KindUnavailable
from ...kind_api import (
    Handle,
    ServiceContext,
    cancel_and_wait_out,
    options_of,
    probes,
    service,
    spawn,
    stop,
)
from .binaries import find_binaries, server_version
from .cluster import prepare_data_dir, socket_dir, unprivileged_user
from .options import PostgresConfig


def _psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError:
        raise KindUnavailable(
            "the postgres kind needs psycopg: pip install 'stackfixtures[services]'"
        ) from None


def dsn(host: str, port: int, user: str, dbname: str, password: str | None = None) -> str:
    """`postgresql://user[:password]@host:port/dbname` (the password URL-quoted)."""
    secret = f":{quote(password, safe='')}" if password else ""
    return f"postgresql://{quote(user, safe='')}{secret}@{host}:{port}/{dbname}"


READY_LINE = "database system is ready to accept connections"
"""What the server logs once it accepts connections (its messages are in English: lc_messages=C).
Waiting for it before the first connection keeps the server's log free of one
`FATAL: the database system is starting up` per probe."""


def sql_probe(url: str) -> probes.CallProbe:
    """Ready when a real connection to `url` runs SELECT 1. psycopg is imported by the first
    check (while the server starts), not before the server is spawned."""

    async def check(ctx: ServiceContext) -> bool:
        conn = await _psycopg().AsyncConnection.connect(url, connect_timeout=2)
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()
        return True

    return probes.call(check, name=f"sql SELECT 1 on {url}")


async def ensure_database(maintenance: str, name: str) -> None:
    """Create the database the profile names (`dbname`) if this cluster has none of it yet."""
    psycopg = _psycopg()
    async with await psycopg.AsyncConnection.connect(maintenance, autocommit=True) as conn:
        found = await (
            await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        ).fetchone()
        if not found:
            await conn.execute(f'CREATE DATABASE "{name}"')


@service(config=PostgresConfig)
async def postgres(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """PostgreSQL: ready when SELECT 1 runs; stopped by its own fast shutdown (SIGINT)."""
    cfg = options_of(ctx.definition, PostgresConfig)
    server, initdb, origin = find_binaries(cfg.bin_dir, cfg.source)
    run_as = unprivileged_user(cfg.run_as)
    version = await server_version(server)
    ctx.log.write(f"[stackfixtures] PostgreSQL {version} from {origin}: {server}")
    if run_as:
        ctx.log.write(f"[stackfixtures] running as root: PostgreSQL runs as OS user {run_as!r}")
    pgdata = await prepare_data_dir(ctx, cfg, server, initdb, run_as)
    host, port = ctx.host, ctx.port
    url = dsn(host, port, cfg.user, cfg.dbname, cfg.password)
    maintenance = dsn(host, port, cfg.user, "postgres", cfg.password)
    sockets = socket_dir(ctx, run_as)
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
            extra = {"password": cfg.password} if cfg.password else {}
            yield Handle(
                host=host,
                port=port,
                user=cfg.user,
                dbname=cfg.dbname,
                dsn=url,
                url=url,
                socket_dir=str(sockets),
                version=version,
                template=cfg.template.name if cfg.template else None,
                template_id=None,  # set by its template's builder once it is built
                data_dir=str(pgdata),
                pid=proc.pid,
                **extra,
            )
    finally:  # a spawn that failed leaves the import running: its thread awaited to its end
        await cancel_and_wait_out([], wait_out=[preload])
