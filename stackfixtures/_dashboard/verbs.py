"""The control verbs the dashboard uses, as coroutines whoever runs the stack: a LoopControl's
are awaited in its loop as they are; a blocking StackControl's (RemoteControl) run in threads
of the dashboard's own, so that a long poll never holds the loop or its default pool."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._control.protocol import LogChunk
from .._engine.events import Event
from .._engine.records import ServiceStop

THREADS = 8
"""Blocking requests at once (a page holds two long polls: events and a log's lines)."""
BLOCKING_WAIT = 2.0
"""The longest a blocking long poll waits (its thread cannot be cancelled: the dashboard's
stop waits for it), whatever the page asked; the page simply asks again."""


class Verbs:
    """`control`: a LoopControl (its verbs are coroutines or plain methods of the loop) or
    any StackControl whose methods block."""

    def __init__(self, control: Any) -> None:
        self.control = control
        self.blocking = not inspect.iscoroutinefunction(getattr(control, "status", None))
        self.pool = ThreadPoolExecutor(THREADS, "dashboard") if self.blocking else None

    async def _call(self, verb: str, *args: Any) -> Any:
        method: Callable[..., Any] = getattr(self.control, verb)
        if self.pool is not None:
            return await asyncio.get_running_loop().run_in_executor(self.pool, method, *args)
        answer = method(*args)
        return await answer if inspect.isawaitable(answer) else answer

    async def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("status")
        return answer

    def _bounded(self, wait: float) -> float:
        return min(wait, BLOCKING_WAIT) if self.blocking else wait

    async def events(self, since: int, wait: float) -> list[Event]:
        answer: list[Event] = await self._call("events", since, self._bounded(wait))
        return answer

    async def logs(self, name: str, n: int, since: int | None, wait: float) -> LogChunk:
        marks = None if since is None else {name: since}
        wait = self._bounded(wait)
        answer: dict[str, LogChunk] = await self._call("logs", [name], n, marks, wait)
        return answer[name]

    async def act(self, action: str, name: str) -> str:
        """restart / stop / start / kill `name`; what the CLI would print."""
        if action == "restart":
            await self._call("restart", name)
            return f"{name}: {await self._call('state', name)}"
        if action == "start":
            await self._call("start", [name])
            return f"{name}: {await self._call('state', name)}"
        if action == "stop":
            stops: list[ServiceStop] = await self._call("stop", [name])
            return f"stopped {', '.join(s.service for s in stops) or 'nothing'}"
        pids: list[int] = await self._call("kill", name, "SIGKILL")
        return f"{name}: sent SIGKILL to {', '.join(map(str, pids)) or 'no process'}"

    def close(self) -> None:
        """Let the threads finish what they were asked (each request is bounded)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
