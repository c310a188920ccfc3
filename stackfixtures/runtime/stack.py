"""The stack: runs a graph's services, each gated on its dependencies being READY, and stops
them dependents-first. Every service is just a generator; the engine knows no kinds."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DependencyFailed, ServiceError, StartError, StartupCrashed, StopError
from ..graph import Graph
from ..model import ServiceDefinition
from . import reaper
from .context import SERVICE_ENV, ServiceContext, StopRecord, set_current
from .events import EventLog
from .lifecycle import Lifecycle, State
from .logs import LineListener, ServiceLog
from .ports import bindable

_DONE = object()
BACKSTOP = 1.0
"""Seconds past a service's start timeout before the engine cancels its start itself."""


@dataclass
class ServiceStop:
    """How one service stopped: graceful when every process it ran stopped gracefully."""

    service: str
    graceful: bool
    duration_s: float
    processes: list[StopRecord] = field(default_factory=list)
    error: str = ""
    swept: int = 0  # processes that had left its process group and were found by their marker

    @property
    def exit_codes(self) -> list[int | None]:
        return [p.returncode for p in self.processes]


class Unit:
    """The engine's bookkeeping for one service instance."""

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
        self.waited_on: str | None = None  # the dependency it waited for last (critical chain)
        self.last_stop: ServiceStop | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def state(self) -> State:
        return self.lifecycle.state

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def reset(self) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        self.stop_requested = asyncio.Event()
        self.handle = None
        self.last_stop = None


class Stack:
    """Runs the services of a Graph in one event loop."""

    def __init__(
        self,
        graph: Graph,
        *,
        state_dir: Path,
        root: Path | None = None,
        parallelism: int = 4,
        on_output: LineListener | None = None,
        stack_id: str | None = None,
        events: EventLog | None = None,
        mode: str | None = None,
    ) -> None:
        self.graph = graph
        self.state_dir = Path(state_dir)
        self.root = Path(root) if root else Path.cwd()
        self.stack_id = stack_id or uuid.uuid4().hex[:12]
        self.events = events or EventLog(self.state_dir / "events.jsonl")
        self._on_output = on_output
        self._parallel = asyncio.Semaphore(max(1, parallelism))
        self.hurry = asyncio.Event()
        self.mode = mode
        self.units: dict[str, Unit] = {}
        for name, definition in graph.definitions.items():
            log = ServiceLog(name, self.state_dir / "logs" / f"{name}.log")
            if on_output is not None:
                log.listen(on_output)
            self.units[name] = Unit(definition, Lifecycle(name, self._changed), log)

    def _changed(
        self, service: str, source: State, target: State, reason: str, **extra: Any
    ) -> None:
        self.events.emit(service, str(source), str(target), reason, **extra)

    # ------------------------------------------------------------------ queries

    def state(self, name: str) -> State:
        return self.units[name].state

    def handle(self, name: str) -> Any:
        unit = self.units[name]
        if unit.state not in (State.READY, State.DEGRADED):
            raise ServiceError(name, str(unit.state), "is not ready", unit.log.tail())
        return unit.handle

    def handles(self) -> dict[str, Any]:
        return {
            n: u.handle for n, u in self.units.items() if u.state in (State.READY, State.DEGRADED)
        }

    def running(self) -> list[str]:
        return [n for n, u in self.units.items() if u.active]

    # ------------------------------------------------------------------ start

    async def start(
        self, names: Iterable[str] | None = None, retry_failed: bool = True
    ) -> dict[str, Any]:
        """Start `names` (default: all) and their dependencies; return their handles.

        Independent services start concurrently (bounded); each starts only once what it depends
        on is READY. Raises the StartError of the first requested service that failed.
        """
        wanted = list(self.graph.names if names is None else names)
        order = self.graph.closure(wanted)
        for name in order:
            unit = self.units[name]
            if unit.active:
                continue
            if unit.state is State.FAILED and not retry_failed and unit.ready.done():
                continue
            if unit.state in (State.STOPPED, State.FAILED):
                unit.reset()
            unit.task = asyncio.create_task(self._run(unit), name=f"service:{name}")
        await asyncio.wait([self.units[n].ready for n in order])
        for name in [*wanted, *order]:
            err = self.units[name].ready.exception()
            if err is not None:
                raise err
        return {n: self.units[n].handle for n in wanted}

    async def _await_dependencies(self, unit: Unit) -> None:
        pending = {self.units[d].ready: d for d in unit.definition.dependencies}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                dep = pending.pop(fut)
                unit.waited_on = dep
                err = fut.exception()
                if err is not None:
                    raise DependencyFailed(unit.name, dep, err)

    async def _run(self, unit: Unit) -> None:
        """One service instance from WAITING to STOPPED, in a single task."""
        lc = unit.lifecycle
        deps = unit.definition.dependencies
        lc.move(State.WAITING, "waiting for " + ", ".join(deps) if deps else "no dependencies")
        stop_wait = asyncio.ensure_future(unit.stop_requested.wait())
        try:
            waiter = asyncio.ensure_future(self._await_dependencies(unit))
            await asyncio.wait({waiter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(BaseException):
                    await waiter
                lc.move(State.STOPPED, "stopped before it started")
                unit.ready.set_exception(
                    StartError(unit.name, "stopped", "stopped before it started")
                )
                return
            try:
                waiter.result()
            except DependencyFailed as e:
                lc.move(State.FAILED, str(e).splitlines()[0])
                unit.ready.set_exception(e)
                return

            await self._start_and_serve(unit, stop_wait)
        finally:
            stop_wait.cancel()
            if not unit.ready.done():  # cancelled from outside
                unit.ready.set_exception(
                    StartError(unit.name, str(lc.state), "start was cancelled")
                )
            if not unit.ready.cancelled() and unit.ready.exception() is not None:
                pass  # retrieved: the error is reported through start(), not as a loop warning

    async def _start_and_serve(self, unit: Unit, stop_wait: asyncio.Future[Any]) -> None:
        lc = unit.lifecycle
        async with self._parallel:  # bounded parallelism applies to starting only
            if unit.stop_requested.is_set():
                lc.move(State.STOPPED, "stopped before it started")
                unit.ready.set_exception(
                    StartError(unit.name, "stopped", "stopped before it started")
                )
                return
            ctx = self._context(unit)
            set_current(ctx)
            unit.started_at = time.monotonic()
            ctx.deadline = unit.started_at + unit.definition.timeout
            lc.move(State.STARTING)
            gen = self._generator(unit, ctx)
            starter = asyncio.ensure_future(self._advance(unit, gen, first=True))
            try:
                await asyncio.wait({starter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                starter.cancel()
                raise
        if not starter.done():  # stop requested while starting: cancel the start
            starter.cancel()
            with contextlib.suppress(BaseException):
                await starter
            lc.move(State.STOPPING, "stop requested during start")
            await self._finish(unit, ctx, t0=time.monotonic())
            unit.ready.set_exception(
                StartError(unit.name, "stopped", "stopped before it was ready")
            )
            return
        try:
            unit.handle = starter.result()
        except BaseException as e:
            err = self._start_error(unit, ctx, e)
            lc.move(State.FAILED, err.reason)
            unit.ready.set_exception(err)
            return
        unit.ready_at = time.monotonic()
        ctx.deadline = None
        lc.move(
            State.READY,
            f"ready in {unit.ready_at - unit.started_at:.3f}s",
            ready_s=round(unit.ready_at - unit.started_at, 4),
        )
        unit.ready.set_result(unit.handle)
        await unit.stop_requested.wait()
        t0 = time.monotonic()
        lc.move(State.STOPPING, "stop requested")
        error = ""
        try:
            await self._advance(unit, gen, first=False)
        except BaseException as e:
            error = f"teardown raised {type(e).__name__}: {e}"
        await self._finish(unit, ctx, t0, error)

    async def _finish(self, unit: Unit, ctx: ServiceContext, t0: float, error: str = "") -> None:
        # Anything the service code forgot to stop is stopped here, forcibly but completely.
        for proc in list(ctx.processes):
            await proc.stop(ctx.stop_policy())
        records = list(ctx.stop_records)
        graceful = not error and all(r.graceful for r in records)
        stop = ServiceStop(unit.name, graceful, time.monotonic() - t0, records, error)
        unit.last_stop = stop
        codes = [r.returncode for r in records]
        reason = (
            "graceful"
            if graceful
            else (error or "forced: " + "; ".join(r.note for r in records if not r.graceful))
        )
        unit.lifecycle.move(
            State.STOPPED,
            reason,
            graceful=graceful,
            exit_codes=codes,
            duration_s=round(stop.duration_s, 4),
        )

    def _context(self, unit: Unit) -> ServiceContext:
        deps = {d: self.units[d].handle for d in unit.definition.dependencies}
        ctx = ServiceContext(
            definition=unit.definition,
            stack_id=self.stack_id,
            root=self.root,
            state_dir=self.state_dir / "services" / unit.name,
            log=unit.log,
            deps=deps,
            loop=asyncio.get_running_loop(),
            hurry=self.hurry,
            mode=self.mode,
        )
        previous = unit.ctx._port if unit.ctx is not None else None
        if previous is not None and bindable(previous, ctx.host):
            ctx._port = previous  # a restarted service keeps its address: handles stay valid
        ctx.state_dir.mkdir(parents=True, exist_ok=True)
        unit.ctx = ctx
        return ctx

    def _generator(self, unit: Unit, ctx: ServiceContext) -> Any:
        d = unit.definition
        kwargs = {p: ctx.deps[d.provider(p)] for p in d.params}
        if d.wants_ctx:
            kwargs["ctx"] = ctx
        return d.function(**kwargs)

    async def _advance(self, unit: Unit, gen: Any, first: bool) -> Any:
        """Run the generator to its yield (first) or to its end (teardown)."""
        # The probes inside report a missed deadline themselves; this is only the backstop.
        timeout = unit.definition.timeout + BACKSTOP if first else None
        if unit.definition.is_async:
            async with asyncio.timeout(timeout):
                try:
                    value = await gen.__anext__()
                except StopAsyncIteration:
                    value = _DONE
        else:
            value = await asyncio.wait_for(asyncio.to_thread(_next, gen), timeout)
        if first and value is _DONE:
            raise StartupCrashed(
                unit.name, "starting", "the service function returned without yielding a handle"
            )
        if not first and value is not _DONE:
            raise StopError(unit.name, "stopping", "the service function yielded more than once")
        return value

    def _start_error(self, unit: Unit, ctx: ServiceContext, e: BaseException) -> StartError:
        if isinstance(e, StartError):
            return e
        if isinstance(e, TimeoutError):
            return StartError(
                unit.name,
                "starting",
                f"not ready within its start timeout of {unit.definition.timeout:g}s",
                ctx.log.tail(),
            )
        return StartupCrashed(
            unit.name, "starting", f"raised {type(e).__name__}: {e}", ctx.log.tail()
        )

    # ------------------------------------------------------------------ stop

    async def stop(self, names: Iterable[str] | None = None) -> list[ServiceStop]:
        """Stop `names` (default: everything running) and whatever depends on them.

        A service is asked to stop only after all its running dependents have stopped;
        independent branches stop in parallel. Returns one record per service stopped.
        """
        targets = self.graph.dependents_closure(self.graph.names if names is None else names)
        tasks = {n: t for n in targets if (t := self.units[n].task) is not None and not t.done()}

        async def stop_one(name: str) -> ServiceStop | None:
            unit = self.units[name]
            blockers = [tasks[d] for d in self.graph.dependents(name) if d in tasks]
            if blockers:
                await asyncio.wait(blockers)
            unit.stop_requested.set()
            await asyncio.wait([tasks[name]])
            return unit.last_stop

        results = [r for r in await asyncio.gather(*(stop_one(n) for n in tasks)) if r is not None]
        if tasks:
            await self._sweep(results)
        return results

    async def _sweep(self, stops: list[ServiceStop]) -> None:
        """Kill what the stopped services left behind outside their process groups (e.g. a
        double-forked daemon), found by the env marker every process of theirs inherits."""
        names = {s.service for s in stops}
        left = await asyncio.to_thread(reaper.marked, self.stack_id, names)
        if not left:
            return
        by_service: dict[str, int] = {}
        for p in left:
            with contextlib.suppress(Exception):
                svc = p.environ().get(SERVICE_ENV, "")
                by_service[svc] = by_service.get(svc, 0) + 1
        await asyncio.to_thread(reaper.kill_all, left)
        for s in stops:
            s.swept = by_service.get(s.service, 0)
            if s.swept:
                self.units[s.service].log.write(
                    f"[stackfixtures] swept {s.swept} leftover process(es) that had left the group"
                )

    async def close(self) -> list[ServiceStop]:
        """Stop everything and close the event log."""
        stops = await self.stop()
        for unit in self.units.values():
            unit.log.close()
        self.events.close()
        return stops

    def force(self) -> None:
        """Skip the remaining grace of every stop in progress (a second Ctrl-C)."""
        self.hurry.set()


def _next(gen: Any) -> Any:
    try:
        return next(gen)
    except StopIteration:
        return _DONE


def selection_summary(stack: Stack, names: Iterable[str]) -> list[dict[str, Any]]:
    """Rows for a table of services: name, state, endpoint attributes of the handle."""
    rows = []
    for name in names:
        unit = stack.units[name]
        h = unit.handle
        attrs = vars(h) if h is not None and hasattr(h, "__dict__") else {}
        endpoint = (
            attrs.get("endpoint")
            or attrs.get("url")
            or attrs.get("dsn")
            or (f"{attrs['host']}:{attrs['port']}" if "host" in attrs and "port" in attrs else "")
        )
        rows.append(
            {
                "name": name,
                "state": str(unit.state),
                "endpoint": endpoint,
                "pid": unit.ctx.processes[0].pid if unit.ctx and unit.ctx.processes else None,
            }
        )
    return rows


Callback = Callable[..., Any]
