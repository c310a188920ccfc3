"""The engine's record of one service: its definition, state, log, readiness and counters."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Literal

from .._define.service import ServiceDefinition
from ..errors import StartError
from .context import ServiceContext
from .lifecycle import Lifecycle, State
from .logs import ServiceLog
from .records import ServiceStop

Outcome = Literal["stopped", "failed", "dependency failed"]
"""How one incarnation of a service ended."""


class Unit:
    """One service as the engine tracks it across incarnations (starts, crashes, restarts)."""

    def __init__(self, definition: ServiceDefinition, lifecycle: Lifecycle, log: ServiceLog):
        self.definition = definition
        self.lifecycle = lifecycle
        self.log = log
        self.ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.stop_requested = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.ctx: ServiceContext | None = None
        self.handle: Any = None
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self.last_stop: ServiceStop | None = None
        self.last_error: StartError | None = None
        self.restart_times: deque[float] = deque()  # automatic restarts inside the window
        self.restarts = 0  # every restart, automatic or by hand
        self.last_exit_code: int | None = None
        self.circuit_open = False
        self.health = "unknown"
        self.last_probe_ms: float | None = None
        self.cascade: set[str] = set()  # dependents to start again once this is READY
        self.stop_reason = ""  # why it is being stopped, when not by a request of its own
        self.start_reason: str | None = None  # why the next start happens (a restart's reason)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def state(self) -> State:
        return self.lifecycle.state

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def processes(self) -> list[Any]:
        """The live processes it runs now (its main processes, not their children)."""
        ctx = self.ctx
        return [p for p in ctx.processes if p.returncode is None] if ctx else []

    def checked(self, why: str | None, took_ms: float) -> None:
        """Record a liveness check: `why` is None when it passed."""
        self.last_probe_ms = took_ms
        self.health = "ok" if why is None else f"failing: {why}"

    @property
    def gave_up(self) -> bool:
        """Failed, and settled: nothing will start it again unless asked (a start, a restart)."""
        return self.state is State.FAILED and self.ready.done()

    def fresh_ready(self) -> None:
        """A new readiness future for the next incarnation, if the last one was settled."""
        if self.ready.done():
            if not self.ready.cancelled():
                self.ready.exception()  # retrieved: reported through start(), not as a warning
            self.ready = asyncio.get_running_loop().create_future()

    def reset(self) -> None:
        self.fresh_ready()
        self.stop_requested = asyncio.Event()
        self.stop_reason = ""
        self.handle = None
        self.last_stop = None
