"""Talking to a PostgreSQL server, whichever source runs it (a local process or a container):
its DSN, psycopg (imported when first needed), the SELECT 1 probe, the profile's database made,
and the server's handle."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import quote

from ...errors import KindUnavailable
from ...kind_api import Handle, OptionsView, ServiceContext, probes


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


def server_handle(
    cfg: OptionsView,
    host: str,
    port: int,
    version: str,
    socket_dir: str | None = None,
    data_dir: str | None = None,
    pid: int | None = None,
) -> Handle:
    """The server's handle, whichever source runs it (a local process or a container)."""
    url = dsn(host, port, cfg.user, cfg.dbname, cfg.password)
    extra = {"password": cfg.password} if cfg.password else {}
    return Handle(
        host=host,
        port=port,
        user=cfg.user,
        dbname=cfg.dbname,
        dsn=url,
        url=url,
        socket_dir=socket_dir,
        version=version,
        template=cfg.template.name if cfg.template else None,
        template_id=None,  # set by its template's builder once it is built
        data_dir=data_dir,
        pid=pid,
        **extra,
    )
