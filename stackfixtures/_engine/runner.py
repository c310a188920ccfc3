"""A Stack in its own thread and event loop, driven from synchronous code (the pytest plugin).

Services never run in a test's event loop, so async tests with any loop scope can use them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from .._define.bus import BusTarget
from .._define.graph import Graph
from .._define.service import DEFAULT_PARALLELISM
from .cleanup import watchdog
from .logs import LineListener
from .stack import ServiceStop, Stack

T = TypeVar("T")


class EngineThread:
    """Owns an event loop thread and the Stack living in it. Operate the stack through
    `control.local.LocalControl(thread.stack, thread.loop)`; `call` runs a coroutine there."""

    def __init__(
        self,
        graph: Graph,
        *,
        state_dir: Path,
        root: Path,
        parallelism: int = DEFAULT_PARALLELISM,
        mode: str | None = None,
        on_output: LineListener | None = None,
        bus: BusTarget | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="stackfixtures", daemon=True
        )
        self._thread.start()

        async def make() -> Stack:
            return Stack(
                graph,
                state_dir=state_dir,
                root=root,
                parallelism=parallelism,
                on_output=on_output,
                mode=mode,
                bus=bus,
            )

        self.stack: Stack = self.call(make())
        self.closed = False
        ledger = self.stack.ledger
        self._guard = watchdog.start(ledger) if ledger else None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> list[ServiceStop]:
        """Stop everything still running, in reverse order, then end the loop thread."""
        if self.closed:
            return []
        self.closed = True
        closed = False
        try:
            stops = self.call(self.stack.close())
            closed = True
            return stops
        finally:
            if self._guard is not None and closed:  # all stopped and swept: it just exits
                watchdog.stop(self._guard)
            elif self._guard is not None and self._guard.stdin is not None:
                self._guard.stdin.close()  # as if we died: it kills what the ledger lists
                watchdog.reap(self._guard, timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            if not self._thread.is_alive():
                self.loop.close()
