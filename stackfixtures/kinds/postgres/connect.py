"""Talking to a PostgreSQL server, whichever source runs it (a local process or a container):
its DSN, psycopg (imported when first needed), the SELECT 1 probes (over psycopg, or over the
protocol itself for our own server: wire.py), the profile's database made, and the server's
handle."""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ...errors import KindUnavailable
from ...kind_api import Handle, OptionsView, ServiceContext, probes
from . import wire

MAINTENANCE = "postgres"
"""The database every cluster initdb makes, which the probes connect to."""


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


@dataclass(frozen=True)
class WireProbe:
    """Ready when SELECT 1 runs in the maintenance database, spoken over PostgreSQL's protocol
    itself (wire.py: no psycopg to import on a start's path). Once it passed, `parameters`
    holds what the server reported at startup (`server_version`, ...)."""

    host: str
    port: int
    user: str
    password: str | None
    parameters: dict[str, str] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        return f"sql SELECT 1 on {dsn(self.host, self.port, self.user, MAINTENANCE, self.password)}"

    async def check(self, ctx: ServiceContext) -> str | None:
        try:
            async with asyncio.timeout(2):
                said = await wire.query(
                    self.host, self.port, self.user, MAINTENANCE, self.password, "SELECT 1"
                )
        except (OSError, ValueError, KeyError) as e:  # refused, reset, a garbled answer
            return f"{type(e).__name__}: {e}"
        if said.error is not None:
            return said.refusal
        if said.rows != [["1"]]:
            return f"SELECT 1 answered {said.rows}"
        self.parameters.update(said.parameters)
        return None


async def ensure_database_on(
    host: str, port: int, user: str, password: str | None, name: str
) -> None:
    """ensure_database for our own server, asking over the protocol first whether `name`
    takes a connection (it does on every start but the first: psycopg is imported only to
    create it). The maintenance database is there: the probe has just used it."""
    if name == MAINTENANCE:
        return
    said = await wire.query(host, port, user, name, password, "SELECT 1")
    if said.error is None:
        return
    await ensure_database(dsn(host, port, user, MAINTENANCE, password), name)


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
