"""LocalControl: the control protocol over an engine running in this process.

The stack lives in an event loop (the launcher's, or an EngineThread's); every verb runs there.
LoopControl holds the verbs as coroutines of that loop (the control server awaits them);
LocalControl's methods are synchronous and must be called from another thread (pytest's).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, TypedDict, TypeVar, Unpack

from .._config.suggest import unknown_service
from .._define.policies import parse_signal
from .._engine import status as rows
from .._engine.events import Event
from .._engine.lifecycle import State
from .._engine.stack import ServiceStop, Stack
from ..errors import ControlError, RequestRefused
from .protocol import LogChunk

T = TypeVar("T")


class Options(TypedDict, total=False):
    """What a control is told of its stack beyond the engine's state."""

    info: Mapping[str, Any]
    """Describes the stack for `status()` (the launcher's own dict: what it updates shows)."""
    on_down: Callable[[], None]
    """The launcher's: stop everything and exit (without: `down` closes the stack)."""
    on_reload: Callable[[], Awaitable[dict[str, Any]]]
    """The launcher's: re-read the definitions (without: `reload` is refused)."""
    retry_failed: bool
    """Whether `start` retries a failed service (default True; pytest: it stays failed)."""


class LoopControl:
    """The control verbs as run in the stack's event loop, where its state lives: the control
    server awaits them there (no thread in between), LocalControl runs them there from
    another thread. The protocol's arguments are checked here, once for both: a request the
    stack cannot take raises RequestRefused wherever it was asked."""

    def __init__(self, stack: Stack, **options: Unpack[Options]) -> None:
        self.stack = stack
        info = options.get("info")
        self.info = info if isinstance(info, dict) else dict(info or {})
        self.info.setdefault("started", time.time())
        self._on_down = options.get("on_down")
        self._on_reload = options.get("on_reload")
        self._retry_failed = options.get("retry_failed", True)

    def _known(self, *names: str) -> None:
        for name in names:
            if name not in self.stack.units:
                raise unknown_service(name, self.stack.units)

    async def status(self) -> dict[str, Any]:
        info = {"id": self.stack.stack_id, "state_dir": str(self.stack.state_dir), **self.info}
        info["launcher_pid"] = os.getpid()  # (the process running the stack)
        info["uptime_s"] = round(time.time() - info["started"], 3)
        if self.stack.bus is not None:  # `[stack] events`: how publishing goes
            info["events"] = self.stack.bus.status()
        return {"stack": info, "services": [_with_client_env(r) for r in rows.rows(self.stack)]}

    def state(self, name: str) -> State:
        self._known(name)
        return self.stack.state(name)

    def handle(self, name: str) -> Any:
        self._known(name)
        return self.stack.handle(name)

    async def start(self, names: Sequence[str]) -> dict[str, Any]:
        self._known(*names)
        return await self.stack.start(list(names), retry_failed=self._retry_failed)

    async def stop(self, names: Sequence[str] | None = None) -> list[ServiceStop]:
        if names is not None:
            self._known(*names)
        return await self.stack.stop(None if names is None else list(names))

    async def restart(self, name: str) -> Any:
        self._known(name)
        return await self.stack.restart(name)

    async def kill(self, name: str, signal: int | str = "SIGKILL", wait: float = 0.0) -> list[int]:
        self._known(name)
        try:
            sig = int(parse_signal(signal))
        except ValueError:
            raise RequestRefused(f"unknown signal {signal!r}") from None
        pids = self.stack.kill(name, sig)
        if wait > 0:
            await self.stack.exit_noticed(name, wait)
        return pids

    async def pause(self, name: str) -> list[int]:
        self._known(name)
        return self.stack.pause(name)

    async def resume(self, name: str) -> list[int]:
        self._known(name)
        return self.stack.resume(name)

    async def scale(self, name: str, replicas: int) -> dict[str, str]:
        self._known(name)
        names = await self.stack.scale(name, replicas)  # refuses 0 (RequestRefused)
        return {n: str(self.stack.state(n)) for n in names}

    async def metrics(self) -> str:
        """The one verb that blocks (prometheus_client loads on the first scrape, ~60 ms; the
        text is built by it): in a worker thread, awaited here."""
        rows = (await self.status())["services"]
        return await asyncio.to_thread(_exposition, self.stack.stack_id, rows)

    async def logs(
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
        if marks and all(units[s].log.mark <= m for s, m in marks.items() if s in units):
            await self.stack.activity.wait(wait)
        out: dict[str, LogChunk] = {}
        for s in wanted:
            lines, times, mark = units[s].log.read(marks.get(s), n)
            out[s] = {"lines": lines, "mark": mark, "times": times}
        return out

    async def events(self, since: int = 0, wait: float = 0.0) -> list[Event]:
        if len(self.stack.events.events) <= since:
            await self.stack.activity.wait(wait)
        return self.stack.events.events[since:]

    async def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        self._known(name)
        try:
            wanted = State(state)
        except ValueError:
            known = ", ".join(s.value for s in State)
            raise RequestRefused(f"unknown state {state!r} (one of: {known})") from None
        await self.stack.wait_for(name, wanted, timeout)

    async def reload(self) -> dict[str, Any]:
        if self._on_reload is None:
            raise ControlError("this stack has no definitions to reload", 404)
        return await self._on_reload()

    async def down(self) -> bool:
        """Stop the whole stack: the launcher's (after this answer is out), or this one."""
        if self._on_down is not None:
            asyncio.get_running_loop().call_soon(self._on_down)  # it stops, then exits
            return True
        await self.stack.close()
        return True


class LocalControl:
    """Drives `stack` (living in `loop`) from another thread: each verb is LoopControl's, run
    in the loop (`options`: see Options)."""

    def __init__(
        self, stack: Stack, loop: asyncio.AbstractEventLoop, **options: Unpack[Options]
    ) -> None:
        self.stack = stack
        self.loop = loop
        self.verbs = LoopControl(stack, **options)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise RuntimeError("LocalControl blocks: call it from another thread than the stack's")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def status(self) -> dict[str, Any]:
        return self._run(self.verbs.status())

    def state(self, name: str) -> State:
        return self.verbs.state(name)

    def handle(self, name: str) -> Any:
        return self.verbs.handle(name)

    def start(self, names: Sequence[str]) -> dict[str, Any]:
        return self._run(self.verbs.start(names))

    def stop(self, names: Sequence[str] | None = None) -> list[ServiceStop]:
        return self._run(self.verbs.stop(names))

    def restart(self, name: str) -> Any:
        return self._run(self.verbs.restart(name))

    def kill(self, name: str, signal: int | str = "SIGKILL", wait: float = 0.0) -> list[int]:
        return self._run(self.verbs.kill(name, signal, wait))

    def pause(self, name: str) -> list[int]:
        return self._run(self.verbs.pause(name))

    def resume(self, name: str) -> list[int]:
        return self._run(self.verbs.resume(name))

    def scale(self, name: str, replicas: int) -> dict[str, str]:
        return self._run(self.verbs.scale(name, replicas))

    def metrics(self) -> str:
        return self._run(self.verbs.metrics())

    def logs(
        self,
        names: Sequence[str] | None = None,
        n: int = 100,
        since: Mapping[str, int] | None = None,
        wait: float = 0.0,
    ) -> dict[str, LogChunk]:
        return self._run(self.verbs.logs(names, n, since, wait))

    def events(self, since: int = 0, wait: float = 0.0) -> list[Event]:
        return self._run(self.verbs.events(since, wait))

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        self._run(self.verbs.wait_for(name, state, timeout))

    def reload(self) -> dict[str, Any]:
        return self._run(self.verbs.reload())

    def down(self, timeout: float = 120.0) -> bool:
        closing = asyncio.run_coroutine_threadsafe(self.verbs.down(), self.loop)
        try:
            return closing.result(timeout)  # on a timeout it goes on closing: not cut short
        except TimeoutError:
            return False


def _exposition(stack_id: str, rows: list[dict[str, Any]]) -> str:
    from .prometheus import exposition  # prometheus_client loads only when scraped

    return exposition(stack_id, rows)


def _with_client_env(row: dict[str, Any]) -> dict[str, Any]:
    """A status row with `client_env`: the variables its kind's clients read by convention
    (DATABASE_URL, PGHOST, ...), computed here where the kind is loaded, so that `stack env`
    and `stack exec` need not import any kind."""
    from .. import kinds
    from .._define.service import Handle

    attrs = row.get("handle") or {}
    kind = kinds.of_handle(row.get("kind"), attrs)
    if kind is not None and kind.client_env is not None and attrs:
        row["client_env"] = kind.client_env(Handle(**attrs))
        row["client_kind"] = kind.name
    return row
