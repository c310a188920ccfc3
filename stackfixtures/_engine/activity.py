"""Activity: wakes those waiting for something to happen in a stack (a new event, a new log
line), e.g. a long-polling `stack events -f`. Safe to poke from any thread."""

from __future__ import annotations

import asyncio
import contextlib


class Activity:
    """A pulse that waiters in the stack's event loop can await with a timeout."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pulse = asyncio.Event()
        self._pending = False

    def poke(self) -> None:
        """Something happened. Coalesced: a burst of lines wakes waiters once."""
        if self._pending or self._loop.is_closed():
            return
        self._pending = True
        self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self._pending = False
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    async def wait(self, timeout: float) -> None:
        """Return at the next poke, or after `timeout` seconds."""
        if timeout <= 0:
            return
        pulse = self._pulse
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await pulse.wait()
