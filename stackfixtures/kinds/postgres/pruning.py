"""The pruning of old data-dir homes beside a running server, kept off its start.

A look at every home costs CPU (~25 ms for 400 homes, where test suites ran) and a removal
costs disk: begun at the spawn, it slowed the server's own boot and its dependents' by tens of
milliseconds on two cores. So a server waits PRUNE_AFTER seconds after its spawn first, and a
stop before then prunes nothing. So that servers which never live that long (a suite of short
stacks) still keep the homes in check, a prune that has not completed within DUE seconds
begins at the spawn, as before. A stop halts a prune at the next home; a prune that completed
is recorded (a stamp in this user's private tmp dir, per homes root).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from pathlib import Path

from ...kind_api import ServiceContext, cancel_and_wait_out, user_tmp
from .cluster import homes_root
from .placement import prune

PRUNE_AFTER = 2.0
"""Seconds after the server's spawn before old homes are looked at (when one completed lately)."""

DUE = 3600.0
"""Seconds after a completed prune before the next one begins at the spawn again."""


def _stamp() -> Path:
    digest = hashlib.sha256(str(homes_root()).encode()).hexdigest()[:12]
    return user_tmp() / f"pg-homes-pruned-{digest}"


def pruned_lately() -> bool:
    """Whether a prune of the homes root completed within DUE seconds."""
    with contextlib.suppress(OSError):
        return time.time() - _stamp().stat().st_mtime < DUE
    return False


class HomePruning:
    """Begun on creation (inside the running loop); `stop()` ends it and waits for its end.
    Nothing to do when the server does not run as another user (`run_as` None): no homes."""

    def __init__(self, ctx: ServiceContext, run_as: str | None, after: float = PRUNE_AFTER):
        self._stopping = asyncio.Event()
        self._halt = threading.Event()  # the thread's view of the same stop
        self._task: asyncio.Future[None] | None = None
        if run_as is not None:
            wait = after if pruned_lately() else 0.0
            # owned here: stop() (the server's exit, whatever way) awaits it to its end
            self._task = asyncio.ensure_future(self._run(ctx, wait))

    async def _run(self, ctx: ServiceContext, wait: float) -> None:
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
        if self._stopping.is_set():
            return
        keep = str(ctx.state_dir.resolve())  # (never this service's own home)
        # blocking (a look at every home, a cluster's files removed): in a thread, halted at
        # the next home by the stop
        await asyncio.to_thread(prune, homes_root(), keep, self._halt)
        if not self._halt.is_set():  # it went through every home
            with contextlib.suppress(OSError):
                _stamp().touch()

    @property
    def finished(self) -> bool:
        return self._task is None or self._task.done()

    async def stop(self) -> None:
        self._stopping.set()
        self._halt.set()
        if self._task is not None:
            await cancel_and_wait_out([], wait_out=[self._task])
