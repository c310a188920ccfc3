"""postgres_db (function scope): each test its own database, cloned from the server's template
and dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from ...define.service import Handle, service
from ...engine.context import ServiceContext
from ...errors import StartupCrashed
from .options import PostgresDbConfig
from .server import _psycopg, dsn


@service(scope="function", config=PostgresDbConfig)
async def postgres_db(postgres: Handle, ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A fresh database for one test, cloned from the server's template, dropped afterwards."""
    cfg = PostgresDbConfig.model_validate(ctx.config)
    psycopg = _psycopg()
    name = f"test_{uuid.uuid4().hex[:12]}"
    template = getattr(postgres, "template", None) or "template1"
    strategy = f" STRATEGY = {cfg.strategy.upper()}" if _major(postgres) >= 15 else ""
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        except psycopg.Error as e:
            raise StartupCrashed(ctx.name, "starting", f"cannot clone {template!r}: {e}") from e
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
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _major(handle: Handle) -> int:
    try:
        return int(str(getattr(handle, "version", "0")).split(".")[0])
    except ValueError:
        return 0
