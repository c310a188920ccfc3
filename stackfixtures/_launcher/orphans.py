"""The launcher's watch over orphans: as a subreaper it adopts what escaped a service's tree
(`setsid -f env -i daemon`: no group, no session, no marker of the stack's). Every second,
and shortly after anything happens to a service (its process exited, say), it records each one
adopted in the stack's ledger, so that the watchdog (should the launcher die) and a later sweep
stop it with the services; it reaps those that exited, so none stays a zombie."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import psutil

from .._engine.cleanup import reaper

if TYPE_CHECKING:
    from .._control.console import Console
    from .._engine.events import Event
    from .._engine.stack import Stack

LOOK_EVERY = 1.0
"""Seconds between looks for adopted orphans (sooner when a service changes state)."""

SETTLE = 0.25
"""Seconds a look waits after a service changed state, so that a burst of changes (a start's:
each service pending, waiting, starting, ready) makes one look, not one each: a look reads every
process's /proc entry (~3-8 ms on two cores), taken from the servers booting beside it."""

REAP_EVERY = 5.0
"""Seconds between reaps of adopted orphans that exited (reaped when a zombie at two of them:
a child we started is reaped by its own waiter at once, never a zombie that long)."""


class OrphanWatch:
    """Records the orphans the launcher adopts; `run` until cancelled."""

    def __init__(self, stack: Stack, keep: set[int], console: Console) -> None:
        self.stack = stack
        self.keep = keep  # not the stack's: the watchdog, what ran before the stack
        self.console = console
        self.reaping = True  # off while the stack stops: its own waiters are busy then
        self.poke = asyncio.Event()
        self._sessions: dict[int, str] = {}  # a service process's pid (= its session): name
        self._orphans: dict[int, float] = {}  # recorded: pid -> start time

    def event(self, _event: Event) -> None:
        self.poke.set()

    async def run(self) -> None:
        zombies: set[int] = set()
        reaped = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOOK_EVERY):
                    await self.poke.wait()
            if self.poke.is_set():
                await asyncio.sleep(SETTLE)
            self.poke.clear()
            await self.look()
            if self.reaping and time.monotonic() - reaped >= REAP_EVERY:
                reaped = time.monotonic()
                zombies = await asyncio.to_thread(reaper.reap_orphans, zombies, self.keep)

    async def look(self) -> None:
        ledger = self.stack.ledger
        if ledger is None:
            return
        listed = ledger.recorded()
        self._sessions.update({p: s for p, s in listed.items() if p not in self._orphans})
        for pid, started in list(self._orphans.items()):
            if not _same(pid, started):
                del self._orphans[pid]
                ledger.remove(pid)
        found = await asyncio.to_thread(reaper.adopted, {*listed, *self.keep})
        for orphan in found:
            of = orphan.service or self._sessions.get(orphan.sid, "")
            ledger.add_orphan(orphan.pid, orphan.pgid, of)
            with contextlib.suppress(psutil.Error):
                self._orphans[orphan.pid] = psutil.Process(orphan.pid).create_time()
            self.console.info(
                f"adopted orphan pid {orphan.pid}{f' of {of}' if of else ''}: it left its "
                "service; recorded, to be stopped with the stack"
            )


def _same(pid: int, started: float) -> bool:
    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - started) < 0.01 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
