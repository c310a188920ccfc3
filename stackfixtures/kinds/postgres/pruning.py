"""The pruning of old data-dir homes beside a running server, begun once the start is over.

A look at every home costs CPU (~25 ms for 400 homes, where test suites ran) and a removal
costs disk: begun while the stack starts, it slowed the server's own boot and its dependents'
by tens of milliseconds on two cores. So it waits PRUNE_AFTER seconds, and a stop before then
prunes nothing (the next start does); a stop after halts it at the next home.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ...kind_api import ServiceContext, cancel_and_wait_out
from .cluster import prune_homes

PRUNE_AFTER = 2.0
"""Seconds after the server's spawn before old homes are looked at."""


class HomePruning:
    """Begun on creation (inside the running loop); `stop()` ends it and waits for its end."""

    def __init__(self, ctx: ServiceContext, run_as: str | None, after: float = PRUNE_AFTER):
        self._stopping = asyncio.Event()
        self._halt = threading.Event()  # the thread's view of the same stop
        # owned here: stop() (the server's exit, whatever way) awaits it to its end
        self._task = asyncio.ensure_future(self._run(ctx, run_as, after))

    async def _run(self, ctx: ServiceContext, run_as: str | None, after: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), after)
        if not self._stopping.is_set():
            await asyncio.to_thread(prune_homes, ctx, run_as, self._halt)

    @property
    def finished(self) -> bool:
        return self._task.done()

    async def stop(self) -> None:
        self._stopping.set()
        self._halt.set()
        await cancel_and_wait_out([], wait_out=[self._task])
