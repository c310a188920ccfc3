"""LocalControl: the control protocol over an engine running in this process.

The stack lives in an event loop (the launcher's, or a StackThread's); every verb runs there.
The methods are synchronous and must be called from another thread: the control server calls
them from its worker threads, pytest from the test's thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from ..config.suggest import unknown_service
from ..define.policies import parse_signal
from ..engine import status as rows
from ..engine.events import Event
from ..engine.lifecycle import State
from ..engine.stack import ServiceStop, Stack
from ..errors import ControlError
from .protocol import LogChunk

T = TypeVar("T")


class LocalControl:
    """Drives `stack` (living in `loop`). `info` describes the stack for `status()`; the
    launcher passes `on_down` (stop everything and exit) and `on_reload` (re-read the code)."""

    def __init__(
        self,
        stack: Stack,
        loop: asyncio.AbstractEventLoop,
        *,
        info: Mapping[str, Any] | None = None,
        on_down: Callable[[], None] | None = None,
        on_reload: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        retry_failed: bool = True,
    ) -> None:
        self.stack = stack
        self.loop = loop
        self.info = info if isinstance(info, dict) else dict(info or {})  # the launcher's own:
        self.info.setdefault("started", time.time())  # what it updates (a reload) shows
        self._on_down = on_down
        self._on_reload = on_reload
        self._retry_failed = retry_failed  # pytest: a failed service stays failed for the session

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise RuntimeError("LocalControl blocks: call it from another thread than the stack's")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _known(self, *names: str) -> None:
        for name in names:
            if name not in self.stack.units:
                raise unknown_service(name, self.stack.units)

    def status(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            info = {"id": self.stack.stack_id, "state_dir": str(self.stack.state_dir), **self.info}
            info["launcher_pid"] = os.getpid()  # (the process running the stack)
            info["uptime_s"] = round(time.time() - info["started"], 3)
            return {"stack": info, "services": [_with_client_env(r) for r in rows.rows(self.stack)]}

        return self._run(read())

    def state(self, name: str) -> State:
        self._known(name)
        return self.stack.state(name)

    def handle(self, name: str) -> Any:
        self._known(name)
        return self.stack.handle(name)

    def start(self, names: Sequence[str]) -> dict[str, Any]:
        self._known(*names)
        return self._run(self.stack.start(list(names), retry_failed=self._retry_failed))

    def stop(self, names: Sequence[str] | None = None) -> list[ServiceStop]:
        if names is not None:
            self._known(*names)
        return self._run(self.stack.stop(None if names is None else list(names)))

    def restart(self, name: str) -> Any:
        self._known(name)
        return self._run(self.stack.restart(name))

    def kill(self, name: str, signal: int | str = "SIGKILL", wait: float = 0.0) -> list[int]:
        self._known(name)
        sig = int(parse_signal(signal))

        async def kill() -> list[int]:
            pids = self.stack.kill(name, sig)
            if wait > 0:
                await self.stack.exit_noticed(name, wait)
            return pids

        return self._run(kill())

    def pause(self, name: str) -> list[int]:
        self._known(name)
        return self._run(_now(self.stack.pause, name))

    def resume(self, name: str) -> list[int]:
        self._known(name)
        return self._run(_now(self.stack.resume, name))

    def scale(self, name: str, replicas: int) -> dict[str, str]:
        self._known(name)
        names = self._run(self.stack.scale(name, replicas))
        return {n: str(self.stack.state(n)) for n in names}

    def metrics(self) -> str:
        from .prometheus import exposition  # prometheus_client loads only when scraped

        return exposition(self.stack.stack_id, self.status()["services"])

    def logs(
        self,
        names: Sequence[str] | None = None,
        n: int = 100,
        since: Mapping[str, int] | None = None,
        wait: float = 0.0,
    ) -> dict[str, LogChunk]:
        wanted = list(self.stack.units) if names is None else list(names)
        self._known(*wanted)
        marks = dict(since or {})
        units = self.stack.units

        async def read() -> dict[str, LogChunk]:
            if marks and all(units[s].log.mark <= m for s, m in marks.items() if s in units):
                await self.stack.activity.wait(wait)
            out: dict[str, LogChunk] = {}
            for s in wanted:
                log = units[s].log
                lines, times, mark = log.read(marks.get(s), n)
                out[s] = {"lines": lines, "mark": mark, "times": times}
            return out

        return self._run(read())

    def events(self, since: int = 0, wait: float = 0.0) -> list[Event]:
        async def read() -> list[Event]:
            if len(self.stack.events.events) <= since:
                await self.stack.activity.wait(wait)
            return self.stack.events.events[since:]

        return self._run(read())

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        self._known(name)
        self._run(self.stack.wait_for(name, State(state), timeout))

    def reload(self) -> dict[str, Any]:
        if self._on_reload is None:
            raise ControlError("this stack has no definitions to reload", 404)
        on_reload = self._on_reload

        async def reload() -> dict[str, Any]:
            return await on_reload()

        return self._run(reload())

    def down(self, timeout: float = 120.0) -> bool:
        if self._on_down is not None:
            self.loop.call_soon_threadsafe(self._on_down)  # the launcher stops, then exits
            return True
        closing = asyncio.run_coroutine_threadsafe(self.stack.close(), self.loop)
        try:
            closing.result(timeout)  # on a timeout it goes on closing: it is not cut short
        except TimeoutError:
            return False
        return True


def _with_client_env(row: dict[str, Any]) -> dict[str, Any]:
    """A status row with `client_env`: the variables its kind's clients read by convention
    (DATABASE_URL, PGHOST, ...), computed here where the kind is loaded, so that `stack env`
    and `stack exec` need not import any kind."""
    from .. import kinds
    from ..define.service import Handle

    attrs = row.get("handle") or {}
    kind = kinds.of_handle(row.get("kind"), attrs)
    if kind is not None and kind.client_env is not None and attrs:
        row["client_env"] = kind.client_env(Handle(**attrs))
        row["client_kind"] = kind.name
    return row


async def _now(fn: Callable[[str], T], name: str) -> T:
    """Run a synchronous engine call inside the stack's loop (where its state lives)."""
    return fn(name)
