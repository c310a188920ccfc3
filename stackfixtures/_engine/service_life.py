"""The life of one service: incarnations (WAITING -> STARTING -> READY -> stop or crash),
separated by the restarts its policy allows. The stack creates one ServiceLife per run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

from .._define.service import attributes
from .._ended import how_it_ended
from ..errors import DependencyFailed, StackError, StartError, StartupCrashed, StopError
from . import supervisor
from .cleanup import reaper
from .context import ServiceContext, set_current
from .events import EventLog
from .lifecycle import UP, State
from .liveness import watch
from .records import ServiceStop
from .tasks import cancel_and_wait
from .threads import SyncThreads
from .unit import Outcome, Unit
from .usercode import user_frames

_DONE = object()
BACKSTOP = 1.0
"""Seconds past a service's start timeout before the engine cancels its start itself."""


class Host(Protocol):
    """What a service's life needs from the stack that runs it."""

    @property
    def units(self) -> Mapping[str, Unit]: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def starting(self) -> asyncio.Semaphore:
        """Bounded parallelism applies to starting only."""
        ...

    @property
    def stack_id(self) -> str: ...

    @property
    def threads(self) -> SyncThreads:
        """Where the code of sync services runs (bounded; abandoned out loud)."""
        ...

    def context_for(self, unit: Unit) -> ServiceContext: ...

    async def stop_dependents(self, unit: Unit, cause: str = "") -> None: ...

    def restart_dependents(self, unit: Unit) -> None: ...


class ServiceLife:
    """Runs one service until it is stopped or gives up; settles `unit.ready` every time."""

    def __init__(self, host: Host, unit: Unit) -> None:
        self.host = host
        self.unit = unit

    async def run(self) -> None:
        unit = self.unit
        try:
            while True:
                outcome = await self._incarnation()
                if outcome != "failed":
                    return
                delay, why = supervisor.restart_delay(unit)
                if delay is None:
                    supervisor.give_up(unit, why, self.host.events)
                    cool_down = unit.definition.restart.half_open_after
                    if not unit.circuit_open or cool_down is None:
                        return
                    if not await supervisor.sleep_or_stop(unit, cool_down):
                        unit.lifecycle.move(State.STOPPED, "stopped while the circuit was open")
                        return
                    unit.lifecycle.move(State.BACKOFF, "circuit half-open: one try")
                    unit.fresh_ready()
                else:
                    unit.lifecycle.move(State.BACKOFF, why, delay_s=round(delay, 3))
                    if not await supervisor.sleep_or_stop(unit, delay):
                        unit.lifecycle.move(State.STOPPED, "stopped during back-off")
                        return
                unit.restarts += 1
        except asyncio.CancelledError:  # (the loop is going away): nothing of it may linger
            if unit.ctx is not None:
                await asyncio.shield(self._kill_left(unit.ctx))
            raise
        finally:
            if not unit.ready.done():  # stopped or cancelled before it was ever ready
                unit.ready.set_exception(
                    unit.last_error or StartError(unit.name, str(unit.state), "did not start")
                )
            unit.ready.exception() if not unit.ready.cancelled() else None

    async def _await_dependencies(self) -> None:
        units = self.host.units
        pending = {units[d].ready: d for d in self.unit.definition.dependencies}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                dep = pending.pop(fut)
                err = fut.exception()
                if err is not None:
                    raise DependencyFailed(self.unit.name, dep, err)

    def _dependency_gone(self) -> DependencyFailed | None:
        """A dependency that is no longer up (it crashed after it was ready), as the error."""
        for dep in self.unit.definition.dependencies:
            other = self.host.units[dep]
            if other.state not in UP:
                cause = other.last_error or StartError(dep, str(other.state), "is not running")
                return DependencyFailed(self.unit.name, dep, cause)
        return None

    async def _incarnation(self) -> Outcome:
        """One run of the service: WAITING -> STARTING -> READY -> (stop | crash)."""
        unit = self.unit
        lc = unit.lifecycle
        deps = unit.definition.dependencies
        unit.fresh_ready()
        waiting = "waiting for " + ", ".join(deps) if deps else "no dependencies"
        why, unit.start_reason = unit.start_reason, None
        lc.move(State.WAITING, f"{why}; {waiting}" if why else waiting, depends_on=list(deps))
        stop_wait = asyncio.ensure_future(unit.stop_requested.wait())
        waiter = asyncio.ensure_future(self._await_dependencies())
        try:
            await asyncio.wait({waiter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                await cancel_and_wait(waiter)
                lc.move(State.STOPPED, "stopped before it started")
                return "stopped"
            try:
                waiter.result()
            except DependencyFailed as e:
                return self._dependency_failed(e)
            return await self._start_and_serve(stop_wait)
        finally:
            await cancel_and_wait(stop_wait, waiter)

    def _dependency_failed(self, error: DependencyFailed) -> Outcome:
        """This service cannot start: a dependency failed or went away (its readiness waiters
        get the error)."""
        self.unit.lifecycle.move(State.FAILED, str(error).splitlines()[0])
        self.unit.last_error = error
        self.unit.ready.set_exception(error)
        return "dependency failed"

    async def _start_and_serve(self, stop_wait: asyncio.Future[Any]) -> Outcome:
        unit = self.unit
        lc = unit.lifecycle
        async with self.host.starting:
            if unit.stop_requested.is_set():
                lc.move(State.STOPPED, "stopped before it started")
                return "stopped"
            gone = self._dependency_gone()
            if gone is not None:  # it went down while this one waited for a starting slot
                return self._dependency_failed(gone)
            ctx = self.host.context_for(unit)
            set_current(ctx)
            unit.started_at = time.monotonic()
            ctx.deadline = unit.started_at + unit.definition.timeout
            lc.move(State.STARTING, kind=unit.definition.kind)
            gen = self._generator(ctx)
            starter = asyncio.ensure_future(self._advance(gen, first=True))
            try:
                await asyncio.wait({starter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await cancel_and_wait(starter)
                raise
        if not starter.done():  # stop requested while starting: cancel the start
            await cancel_and_wait(starter)
            lc.move(State.STOPPING, f"{unit.stop_reason or 'stop requested'} during start")
            await self._finish(ctx, t0=time.monotonic())
            return "stopped"
        try:
            unit.handle = starter.result()
            unit.log.secrets.add(attributes(unit.handle))  # the stack's: masked from now on
        except BaseException as e:  # the finished starter's outcome (ours was not cancelled)
            err = self._start_error(ctx, e)
            unit.last_error = err
            unit.last_exit_code = ctx.crash[1] if ctx.crash else getattr(err, "returncode", None)
            lc.move(State.FAILED, err.reason)
            await self._clean_up(ctx)
            return "failed"
        unit.ready_at = time.monotonic()
        ctx.deadline = None
        unit.last_error = None
        took = round(unit.ready_at - unit.started_at, 4)
        if unit.definition.task:
            unit.last_exit_code = 0
            lc.move(State.COMPLETED, f"completed in {took:.3f}s", ready_s=took)
        else:
            lc.move(State.READY, f"ready in {took:.3f}s", ready_s=took)
        unit.ready.set_result(unit.handle)
        if unit.circuit_open:  # a successful half-open try closes the circuit
            supervisor.close_circuit(unit)
        self.host.restart_dependents(unit)
        return await self._serve(ctx, gen)

    async def _serve(self, ctx: ServiceContext, gen: Any) -> Outcome:
        """READY until a stop is requested or one of its processes exits on its own."""
        unit = self.unit
        live = unit.definition.liveness if not unit.definition.task else None
        watcher = asyncio.ensure_future(watch(unit, ctx, live)) if live else None
        stop_wait = asyncio.ensure_future(unit.stop_requested.wait())
        crash_wait = asyncio.ensure_future(ctx.crashed.wait())
        helpers = (stop_wait, crash_wait, watcher)
        try:
            await asyncio.wait({stop_wait, crash_wait}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await cancel_and_wait(*helpers)
            raise
        for helper in helpers:  # asked to end now (no state move of the watcher's can follow),
            if helper is not None:  # awaited once the state says what happened, at once
                helper.cancel()
        if ctx.crash is not None and not unit.stop_requested.is_set():
            pid, code = ctx.crash
            unit.last_exit_code = code
            how = how_it_ended(code)
            reason = f"{ctx.crashed_what or f'process {pid}'} {how}"
            unit.last_error = StartError(unit.name, "ready", reason, ctx.log.tail())
            unit.handle = None
            unit.fresh_ready()  # its old handle must not be handed out while it is down
            unit.lifecycle.move(State.FAILED, reason, exit_code=code)
            await cancel_and_wait(*helpers)
            await self.host.stop_dependents(unit, f"{unit.name} failed: {how}")
            error = await self._teardown(gen)
            if error:
                unit.log.write(f"[stackfixtures] after the crash, {error}")
            await self._clean_up(ctx)
            return "failed"
        t0 = time.monotonic()
        unit.fresh_ready()
        unit.lifecycle.move(State.STOPPING, unit.stop_reason or "stop requested")
        await cancel_and_wait(*helpers)
        error = await self._teardown(gen)
        await self._finish(ctx, t0, error)
        return "stopped"

    async def _teardown(self, gen: Any) -> str:
        """Run the code after `yield`; returns what went wrong, if anything."""
        try:
            await self._advance(gen, first=False)
        except asyncio.CancelledError:
            raise  # (run() kills what is left)
        except BaseException as e:
            where = user_frames(e, self.unit.ctx.root if self.unit.ctx else None)
            return f"teardown raised {type(e).__name__}: {e}" + (
                f" (at {where[-1]})" if where else ""
            )
        return ""

    async def _clean_up(self, ctx: ServiceContext) -> None:
        """After a crash or a failed start: nothing of that incarnation may linger."""
        for proc in list(ctx.processes):
            await proc.stop(ctx.stop_policy())
        left = await asyncio.to_thread(reaper.marked, self.host.stack_id, {self.unit.name})
        if left:
            await asyncio.to_thread(reaper.kill_all, left)
            self.unit.log.write(f"[stackfixtures] swept {len(left)} leftover process(es)")

    async def _kill_left(self, ctx: ServiceContext) -> None:
        """Cancelled (the loop is going away): kill its processes at once, no grace."""
        for proc in list(ctx.processes):
            if proc.returncode is None:
                await proc.kill_now()

    async def _finish(self, ctx: ServiceContext, t0: float, error: str = "") -> None:
        """Stopped: record how. Anything the service code forgot to stop is stopped here,
        forcibly but completely."""
        unit = self.unit
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
        if unit.stop_reason:  # stopped on another's account: keep the cause in sight
            reason += f" ({unit.stop_reason})"
        unit.lifecycle.move(
            State.STOPPED,
            reason,
            graceful=graceful,
            exit_codes=codes,
            duration_s=round(stop.duration_s, 4),
        )

    def _generator(self, ctx: ServiceContext) -> Any:
        d = self.unit.definition
        kwargs = {p: ctx.deps[d.provider(p)] for p in d.params}
        if d.wants_ctx:
            kwargs["ctx"] = ctx
        return d.function(**kwargs)

    async def _advance(self, gen: Any, first: bool) -> Any:
        """Run the generator to its yield (first) or to its end (teardown)."""
        definition = self.unit.definition
        # The probes inside report a missed deadline themselves; this is only the backstop.
        timeout = definition.timeout + BACKSTOP if first else None
        if definition.is_async:
            async with asyncio.timeout(timeout):
                try:
                    value = await gen.__anext__()
                except StopAsyncIteration:
                    value = _DONE
        else:
            value = await self.host.threads.call(
                _next, gen, timeout=timeout, abandoned=self._abandoned, name=self.unit.name
            )
        name = self.unit.name
        if first and value is _DONE:
            raise StartupCrashed(
                name, "starting", "the service function returned without yielding a handle"
            )
        if not first and value is not _DONE:
            raise StopError(name, "stopping", "the service function yielded more than once")
        return value

    def _abandoned(self, why: str) -> None:
        """A thread running this service's code is left behind (Python cannot stop it)."""
        self.unit.log.write(f"[stackfixtures] {self.unit.name}: its sync code {why}")
        state = str(self.unit.state)
        self.host.events.emit(self.unit.name, state, state, why, thread="abandoned")

    def _start_error(self, ctx: ServiceContext, e: BaseException) -> StartError:
        unit = self.unit
        if isinstance(e, StartError):
            return e
        if isinstance(e, StackError):  # written for people (no engine, a planted path...):
            return StartError(unit.name, "starting", str(e), ctx.log.tail())  # its words only
        if isinstance(e, TimeoutError):
            what = "a task: it did not finish" if unit.definition.task else "not ready"
            said = ctx.last_probe_error  # (a probe cut off by the start timeout: its last answer)
            last = f"; its readiness probe's last answer: {said}" if said else ""
            return StartError(
                unit.name,
                "starting",
                f"{what} within its start timeout of {unit.definition.timeout:g}s{last}",
                ctx.log.tail(),
            )
        return StartupCrashed(
            unit.name,
            "starting",
            f"raised {type(e).__name__}: {e}",
            ctx.log.tail(),
            trace=user_frames(e, ctx.root),
        )


def _next(gen: Any) -> Any:
    try:
        return next(gen)
    except StopIteration:
        return _DONE
