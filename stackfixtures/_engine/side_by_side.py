"""Several processes of one service, started side by side and stopped side by side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def together(*spawns: Any) -> AsyncIterator[list[Any]]:
    """`async with together(spawn(a), spawn(b)) as procs:` enters every spawn concurrently and,
    on the way out, stops them all at once. If one fails to start, the others are stopped and
    that first error is raised (not an ExceptionGroup)."""
    entered: list[Any] = []

    async def enter(s: Any) -> Any:
        proc = await s.__aenter__()
        entered.append(s)
        return proc

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(enter(s)) for s in spawns]
    except BaseExceptionGroup as eg:
        await asyncio.gather(
            *(s.__aexit__(None, None, None) for s in entered), return_exceptions=True
        )
        raise eg.exceptions[0] from None
    try:
        yield [t.result() for t in tasks]
    finally:
        results = await asyncio.gather(
            *(s.__aexit__(None, None, None) for s in entered), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
