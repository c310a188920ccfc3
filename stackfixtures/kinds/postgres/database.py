"""postgres_db (function scope): each test its own database, cloned from the server's template
and dropped afterwards. Clones are made ahead by a pool (pool.py) and dropped in the
background, so a test neither waits for CREATE DATABASE nor for DROP DATABASE when the pool
keeps up; `pool = 0` makes and drops each one on the test's path instead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ...errors import StartupCrashed
from ...kind_api import Handle, OptionsView, ServiceContext, service
from . import owners
from .connect import _psycopg, dsn
from .pool import ClonePool, PoolKey

POOLS = "postgres_db"  # the kind's key among the stack's shared helpers
CONNECT = 5  # seconds a connection of the pool may take (a paused server: no hang)


@service(scope="function", config="stackfixtures.kinds.postgres.options:PostgresDbConfig")
async def postgres_db(postgres: Handle, ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A fresh database for one test, cloned from the server's template, dropped afterwards."""
    cfg = OptionsView.of(ctx.definition)
    template = getattr(postgres, "template", None) or "template1"
    strategy = f" STRATEGY = {cfg.strategy.upper()}" if _major(postgres) >= 15 else ""
    if cfg.pool:
        key = PoolKey(str(postgres.dsn), template, _template_id(postgres), strategy, _pid(postgres))
        name = await _take(ctx, key, cfg.pool)
    else:
        name = await _clone(ctx, str(postgres.dsn), template, strategy)
    password = postgres.as_dict().get("password") if isinstance(postgres, Handle) else None
    url = dsn(postgres.host, postgres.port, postgres.user, name, password)
    extra = {"password": password} if password else {}
    yield Handle(
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        dbname=name,
        dsn=url,
        url=url,
        template=template,
        **extra,
    )
    if cfg.pool:
        pool = ctx.resources.get((POOLS, key))
        if isinstance(pool, ClonePool) and not pool.broken:
            pool.release(name)
            return
    await _drop(str(postgres.dsn), name)


async def _take(ctx: ServiceContext, key: PoolKey, maximum: int) -> str:
    """A clone from this stack's pool for `key`; a pool that broke (its server restarted, say)
    is replaced once before giving up."""
    for attempt in (1, 2):
        pool = await _pool(ctx, key, maximum)
        try:
            async with asyncio.timeout(ctx.remaining()):
                return await pool.take()
        except TimeoutError:
            raise StartupCrashed(
                ctx.name,
                "starting",
                f"no clone of {key.template!r} within {ctx.remaining():g}s "
                f"({pool.made} made so far); is the server busy?",
            ) from None
        except Exception as e:  # psycopg's errors: the server, the template
            if attempt == 2:
                raise StartupCrashed(
                    ctx.name, "starting", f"cannot clone {key.template!r}: {e}"
                ) from e
    raise AssertionError("unreachable")


async def _pool(ctx: ServiceContext, key: PoolKey, maximum: int) -> ClonePool:
    """This stack's pool for `key`; pools of an older template or server process at the same
    address (another template_id or pid) and broken ones are closed first, clones dropped."""
    shared = ctx.resources
    for other in shared.held():
        if not (isinstance(other, tuple) and other[0] == POOLS):
            continue
        old, theirs = other[1], shared.get(other)
        older = (old.dsn, old.template, old.strategy) == (key.dsn, key.template, key.strategy)
        if (older and old != key) or (isinstance(theirs, ClonePool) and theirs.broken):
            await shared.discard(other)
    found = shared.get((POOLS, key))
    if isinstance(found, ClonePool):
        return found
    psycopg = _psycopg()

    def connect(url: str) -> Any:
        return psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=CONNECT)

    pool = ClonePool(key, maximum, connect, ctx.log.write)
    shared.add((POOLS, key), pool)
    return pool


async def _clone(ctx: ServiceContext, server: str, template: str, strategy: str) -> str:
    psycopg = _psycopg()
    name = owners.new_name("test")
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        except psycopg.Error as e:
            raise StartupCrashed(ctx.name, "starting", f"cannot clone {template!r}: {e}") from e
    return name


async def _drop(server: str, name: str) -> None:
    async with await _psycopg().AsyncConnection.connect(server, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _template_id(handle: Handle) -> str:
    """The template's identity as the server's handle gives it ("" when it gives none)."""
    return str(handle.as_dict().get("template_id") or "") if isinstance(handle, Handle) else ""


def _pid(handle: Handle) -> int:
    """The server process's pid: a restarted server (its template made anew) has another."""
    return int(handle.as_dict().get("pid") or 0) if isinstance(handle, Handle) else 0


def _major(handle: Handle) -> int:
    try:
        return int(str(getattr(handle, "version", "0")).split(".")[0])
    except ValueError:
        return 0
