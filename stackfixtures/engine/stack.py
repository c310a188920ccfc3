"""The stack: runs a graph's services, each gated on its dependencies being READY, supervises
them while they run, and stops them dependents-first. Every service is just a generator; the
engine knows no kinds."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..define.graph import Graph
from ..define.service import ServiceDefinition
from ..errors import DependencyFailed, ServiceError, StartError, StartupCrashed, StopError
from .cleanup import reaper
from .cleanup.ledger import Ledger
from .context import SERVICE_ENV, ServiceContext, StopRecord, set_current
from .events import EventLog
from .lifecycle import Lifecycle, State
from .liveness import watch
from .logs import LineListener, ServiceLog
from .metrics import measure
from .ports import bindable

_DONE = object()
BACKSTOP = 1.0
"""Seconds past a service's start timeout before the engine cancels its start itself."""

Outcome = Literal["stopped", "failed", "dependency failed"]


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
    """The engine's bookkeeping for one service."""

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
        self.probes: dict[int, Any] = {}  # psutil.Process objects, for CPU percentages

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def state(self) -> State:
        return self.lifecycle.state

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def fresh_ready(self) -> None:
        """A new readiness future for the next incarnation, if the last one was settled."""
        if self.ready.done():
            if not self.ready.cancelled():
                self.ready.exception()  # retrieved: reported through start(), not as a warning
            self.ready = asyncio.get_running_loop().create_future()

    def reset(self) -> None:
        self.fresh_ready()
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
        record: bool = True,
    ) -> None:
        self.graph = Graph(dict(graph.definitions))  # our own copy: replicas are added to it
        self.state_dir = Path(state_dir)
        self.root = Path(root) if root else Path.cwd()
        self.stack_id = stack_id or uuid.uuid4().hex[:12]
        self.events = events or EventLog(self.state_dir / "events.jsonl")
        self._on_output = on_output
        self._parallel = asyncio.Semaphore(max(1, parallelism))
        self.hurry = asyncio.Event()
        self.mode = mode
        self.ledger = Ledger(self.state_dir, self.stack_id) if record else None
        self._background: set[asyncio.Task[Any]] = set()
        self.units: dict[str, Unit] = {}
        for definition in graph.definitions.values():
            self._add_unit(definition)
        for definition in graph.definitions.values():
            for i in range(2, definition.replicas + 1):
                self._add_replica(definition, i)

    def _add_unit(self, definition: ServiceDefinition) -> Unit:
        name = definition.name
        log = ServiceLog(name, self.state_dir / "logs" / f"{name}.log")
        if self._on_output is not None:
            log.listen(self._on_output)
        unit = self.units[name] = Unit(definition, Lifecycle(name, self._changed), log)
        return unit

    def _add_replica(self, base: ServiceDefinition, index: int) -> Unit:
        replica = base.evolve(name=f"{base.name}.{index}", replicas=1)
        self.graph.definitions[replica.name] = replica
        return self._add_unit(replica)

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

    def processes(self, name: str) -> list[Any]:
        """The live processes the service runs now (its main processes, not their children)."""
        ctx = self.units[name].ctx
        return [p for p in ctx.processes if p.returncode is None] if ctx else []

    def metrics(self, name: str) -> dict[str, Any]:
        """State, pids, uptime, restarts, last exit code, RSS, CPU, health, probe latency."""
        return measure(self.units[name], self.processes(name))

    # ------------------------------------------------------------------ start

    async def start(
        self, names: Iterable[str] | None = None, retry_failed: bool = True
    ) -> dict[str, Any]:
        """Start `names` (default: all) and their dependencies; return their handles.

        Independent services start concurrently (bounded); each starts only once what it depends
        on is READY. A service whose restart policy retries failed starts is waited for until
        it is READY or gives up. Raises the StartError of the first requested service that
        failed.
        """
        wanted = list(self.graph.names if names is None else names)
        if not wanted:
            return {}
        order = self.graph.closure(wanted)
        order += [r for n in order for r in self.replicas(n)[1:] if r not in order]
        for name in order:
            unit = self.units[name]
            if unit.active and unit.state is State.STOPPING:
                await asyncio.wait([unit.task])  # type: ignore[type-var]  # then start anew
            if unit.active:
                continue
            if unit.state is State.FAILED and not retry_failed and unit.ready.done():
                continue
            if unit.state in (State.STOPPED, State.FAILED, State.PENDING):
                unit.reset()
            unit.circuit_open = False
            unit.task = asyncio.create_task(self._run(unit), name=f"service:{name}")
        await asyncio.wait([self.units[n].ready for n in order])
        for name in [*wanted, *order]:
            fut = self.units[name].ready
            err = fut.exception() if fut.done() else None
            if err is not None:
                raise err
        return {n: self.units[n].handle for n in wanted}

    async def _run(self, unit: Unit) -> None:
        """The life of one service: incarnations, separated by restarts its policy allows."""
        try:
            while True:
                outcome = await self._incarnation(unit)
                if outcome != "failed":
                    return
                delay, why = self._restart_delay(unit)
                if delay is None:
                    self._give_up(unit, why)
                    cool_down = unit.definition.restart.half_open_after
                    if not unit.circuit_open or cool_down is None:
                        return
                    if not await self._sleep_or_stop(unit, cool_down):
                        unit.lifecycle.move(State.STOPPED, "stopped while the circuit was open")
                        return
                    unit.lifecycle.move(State.BACKOFF, "circuit half-open: one try")
                    unit.fresh_ready()
                else:
                    unit.lifecycle.move(State.BACKOFF, why, delay_s=round(delay, 3))
                    if not await self._sleep_or_stop(unit, delay):
                        unit.lifecycle.move(State.STOPPED, "stopped during back-off")
                        return
                unit.restarts += 1
        finally:
            if not unit.ready.done():  # stopped or cancelled before it was ever ready
                unit.ready.set_exception(
                    unit.last_error or StartError(unit.name, str(unit.state), "did not start")
                )
            unit.ready.exception() if not unit.ready.cancelled() else None

    async def _sleep_or_stop(self, unit: Unit, seconds: float) -> bool:
        """Wait `seconds`; False if a stop was requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(unit.stop_requested.wait(), seconds)
        return not unit.stop_requested.is_set()

    def _restart_delay(self, unit: Unit) -> tuple[float | None, str]:
        """(seconds until the next restart, why), or (None, why not) when it gives up."""
        policy = unit.definition.restart
        if not policy.wants_restart(unit.last_exit_code):
            return None, f"restart policy {policy.policy!r}"
        now = time.monotonic()
        while unit.restart_times and now - unit.restart_times[0] > policy.window:
            unit.restart_times.popleft()
        if len(unit.restart_times) >= policy.max_restarts:
            unit.circuit_open = True
            return None, (
                f"circuit open: {len(unit.restart_times)} restarts within {policy.window:g}s"
            )
        unit.restart_times.append(now)
        attempt = len(unit.restart_times)
        delay = policy.delay_for(attempt)
        return delay, f"restart {attempt}/{policy.max_restarts} in {delay:.2f}s"

    def _give_up(self, unit: Unit, why: str) -> None:
        error = unit.last_error or StartError(unit.name, "failed", why)
        if unit.circuit_open:
            self.events.emit(
                unit.name, "failed", "failed", why, circuit="open", restarts=len(unit.restart_times)
            )
        if not unit.ready.done():
            unit.ready.set_exception(error)

    async def _await_dependencies(self, unit: Unit) -> None:
        pending = {self.units[d].ready: d for d in unit.definition.dependencies}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                dep = pending.pop(fut)
                err = fut.exception()
                if err is not None:
                    raise DependencyFailed(unit.name, dep, err)

    async def _incarnation(self, unit: Unit) -> Outcome:
        """One run of the service: WAITING -> STARTING -> READY -> (stop | crash)."""
        lc = unit.lifecycle
        deps = unit.definition.dependencies
        unit.fresh_ready()
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
                return "stopped"
            try:
                waiter.result()
            except DependencyFailed as e:
                lc.move(State.FAILED, str(e).splitlines()[0])
                unit.last_error = e
                unit.ready.set_exception(e)
                return "dependency failed"
            return await self._start_and_serve(unit, stop_wait)
        finally:
            stop_wait.cancel()

    async def _start_and_serve(self, unit: Unit, stop_wait: asyncio.Future[Any]) -> Outcome:
        lc = unit.lifecycle
        async with self._parallel:  # bounded parallelism applies to starting only
            if unit.stop_requested.is_set():
                lc.move(State.STOPPED, "stopped before it started")
                return "stopped"
            ctx = self._context(unit)
            set_current(ctx)
            unit.started_at = time.monotonic()
            ctx.deadline = unit.started_at + unit.definition.timeout
            lc.move(State.STARTING, kind=unit.definition.kind)
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
            return "stopped"
        try:
            unit.handle = starter.result()
        except BaseException as e:
            err = self._start_error(unit, ctx, e)
            unit.last_error = err
            unit.last_exit_code = ctx.crash[1] if ctx.crash else None
            lc.move(State.FAILED, err.reason)
            await self._clean_up(unit, ctx)
            return "failed"
        unit.ready_at = time.monotonic()
        ctx.deadline = None
        unit.last_error = None
        lc.move(
            State.READY,
            f"ready in {unit.ready_at - unit.started_at:.3f}s",
            ready_s=round(unit.ready_at - unit.started_at, 4),
        )
        unit.ready.set_result(unit.handle)
        if unit.circuit_open:  # a successful half-open try closes the circuit
            unit.circuit_open = False
            unit.restart_times.clear()
        self._restart_cascade(unit)
        return await self._serve(unit, ctx, gen)

    async def _serve(self, unit: Unit, ctx: ServiceContext, gen: Any) -> Outcome:
        """READY until a stop is requested or one of its processes exits on its own."""
        live = unit.definition.liveness
        watcher = asyncio.ensure_future(watch(unit, ctx, live)) if live else None
        stop_wait = asyncio.ensure_future(unit.stop_requested.wait())
        crash_wait = asyncio.ensure_future(ctx.crashed.wait())
        try:
            await asyncio.wait({stop_wait, crash_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (stop_wait, crash_wait, watcher):
                if f is not None:
                    f.cancel()
        if ctx.crash is not None and not unit.stop_requested.is_set():
            pid, code = ctx.crash
            unit.last_exit_code = code
            reason = f"process {pid} exited with code {code}"
            unit.last_error = StartError(unit.name, "ready", reason, ctx.log.tail())
            unit.handle = None
            unit.fresh_ready()  # its old handle must not be handed out while it is down
            unit.lifecycle.move(State.FAILED, reason, exit_code=code)
            await self._cascade_stop(unit)
            error = await self._teardown(unit, ctx, gen)
            if error:
                unit.log.write(f"[stackfixtures] after the crash, {error}")
            await self._clean_up(unit, ctx)
            return "failed"
        t0 = time.monotonic()
        unit.fresh_ready()
        unit.lifecycle.move(State.STOPPING, "stop requested")
        error = await self._teardown(unit, ctx, gen)
        await self._finish(unit, ctx, t0, error)
        return "stopped"

    async def _teardown(self, unit: Unit, ctx: ServiceContext, gen: Any) -> str:
        """Run the code after `yield`; returns what went wrong, if anything."""
        try:
            await self._advance(unit, gen, first=False)
        except BaseException as e:
            return f"teardown raised {type(e).__name__}: {e}"
        return ""

    async def _clean_up(self, unit: Unit, ctx: ServiceContext) -> None:
        """After a crash or a failed start: nothing of that incarnation may linger."""
        for proc in list(ctx.processes):
            await proc.stop(ctx.stop_policy())
        left = await asyncio.to_thread(reaper.marked, self.stack_id, {unit.name})
        if left:
            await asyncio.to_thread(reaper.kill_all, left)
            unit.log.write(f"[stackfixtures] swept {len(left)} leftover process(es)")

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
            ledger=self.ledger,
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

    # ------------------------------------------------------------------ cascades

    def _affected(self, name: str) -> dict[str, str]:
        """Running services that must react when `name` goes down, with how: each follows its
        own edge ("restart" or "stop"; "ignore" keeps it running), transitively."""
        found: dict[str, str] = {}
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for dependent in self.graph.dependents(current):
                edge = self.units[dependent].definition.edge(current)
                if edge == "ignore" or dependent in found or not self.units[dependent].active:
                    continue
                found[dependent] = edge if found.get(current, "restart") == "restart" else "stop"
                frontier.append(dependent)
        return found

    async def _cascade_stop(self, unit: Unit) -> None:
        """Stop the dependents a failure of `unit` concerns; remember which to start again."""
        affected = self._affected(unit.name)
        if not affected:
            return
        for name in affected:
            self.units[name].log.write(
                f"[stackfixtures] stopping: dependency {unit.name!r} is down"
            )
        unit.cascade |= {n for n, edge in affected.items() if edge == "restart"}
        await self._stop_set(list(affected))

    def _restart_cascade(self, unit: Unit) -> None:
        """`unit` is READY again: start what its failure or restart stopped."""
        if not unit.cascade:
            return
        names, unit.cascade = sorted(unit.cascade), set()
        task = asyncio.ensure_future(self._start_quietly(names))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _start_quietly(self, names: list[str]) -> None:
        with contextlib.suppress(StartError):
            await self.start(names)

    # ------------------------------------------------------------------ operate

    async def restart(self, name: str) -> Any:
        """Restart `name` by hand: its dependents follow their edges (stopped before it goes
        down, started again once it is READY). Closes an open circuit. Returns its handle."""
        unit = self.units[name]
        affected = self._affected(name)
        unit.cascade |= {n for n, edge in affected.items() if edge == "restart"}
        await self._stop_set([*affected, name])
        unit.restart_times.clear()
        unit.circuit_open = False
        unit.restarts += 1
        handles = await self.start([name])
        for task in list(self._background):  # the dependents it brought back
            with contextlib.suppress(Exception):
                await task
        return handles[name]

    async def replace(self, definitions: dict[str, ServiceDefinition]) -> list[str]:
        """Swap in new definitions (edited code or profile). A running service that changed is
        restarted with the new one; its dependents follow their edges. Returns what restarted."""
        affected: dict[str, str] = {}
        changed = []
        for name, definition in definitions.items():
            if name not in self.units:
                self.graph.definitions[name] = definition
                self._add_unit(definition)
                continue
            changed.append(name)
            if self.units[name].active:
                affected[name] = "restart"
                affected.update(self._affected(name))
        await self._stop_set(list(affected))
        for name in changed:
            self.units[name].definition = self.graph.definitions[name] = definitions[name]
        again = sorted(n for n, edge in affected.items() if edge == "restart")
        if again:
            await self.start(again)
        return again

    def replicas(self, name: str) -> list[str]:
        """`name` and its extra replicas (`name.2`, `name.3`, ...), in order."""
        extra = [n for n in self.units if n.startswith(name + ".") and n[len(name) + 1 :].isdigit()]
        return [name, *sorted(extra, key=lambda n: int(n.rsplit(".", 1)[1]))]

    async def scale(self, name: str, replicas: int) -> list[str]:
        """Run `replicas` copies of `name` (each with its own port and state dir)."""
        base = self.graph[name]
        if not base.replicas_allowed:
            raise ServiceError(
                name, str(self.state(name)), "does not allow replicas (declare it with replicas)"
            )
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        current = self.replicas(name)
        for i in range(len(current) + 1, replicas + 1):
            self._add_replica(base, i)
        extra = current[replicas:]
        if extra:
            await self._stop_set(extra)
            for n in extra:
                self.units.pop(n).log.close()
                del self.graph.definitions[n]
        kept = self.replicas(name)
        if self.units[name].active:
            await self.start(kept)
        return kept

    def send_signal(self, name: str, sig: int, group: bool = False) -> list[int]:
        """Send `sig` to each of the service's processes (or their groups); returns the pids."""
        procs = self.processes(name)
        if not procs:
            unit = self.units[name]
            raise ServiceError(name, str(unit.state), "has no running process to signal")
        for p in procs:
            p.send(sig, group=group)
        return [p.pid for p in procs]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Fault injection: signal the service's processes as if something outside did."""
        return self.send_signal(name, sig)

    def pause(self, name: str) -> list[int]:
        """Fault injection: SIGSTOP the service's process groups (a hang, not a crash)."""
        return self.send_signal(name, signal.SIGSTOP, group=True)

    def resume(self, name: str) -> list[int]:
        return self.send_signal(name, signal.SIGCONT, group=True)

    # ------------------------------------------------------------------ stop

    async def stop(self, names: Iterable[str] | None = None) -> list[ServiceStop]:
        """Stop `names` (default: everything running) and whatever depends on them.

        A service is asked to stop only after all its running dependents have stopped;
        independent branches stop in parallel. Returns one record per service stopped.
        """
        targets = self.graph.dependents_closure(self.graph.names if names is None else names)
        for unit in self.units.values():  # stopped on purpose: no cascade brings them back
            unit.cascade.difference_update(targets)
        return await self._stop_set(targets)

    async def _stop_set(self, targets: list[str]) -> list[ServiceStop]:
        """Stop exactly `targets`, each after those of its dependents that are in the set."""
        tasks = {n: t for n in targets if (t := self.units[n].task) is not None and not t.done()}
        for n in tasks:
            self.units[n].last_stop = None

        async def stop_one(name: str) -> ServiceStop | None:
            unit = self.units[name]
            blockers = [
                tasks[d] for d in self.graph.dependents_closure([name]) if d != name and d in tasks
            ]
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
        for task in list(self._background):
            task.cancel()
        stops = await self.stop()
        for unit in self.units.values():
            unit.log.close()
        self.events.close()
        if self.ledger is not None and not self.running():
            self.ledger.close()
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
        procs = stack.processes(name)
        rows.append(
            {
                "name": name,
                "state": str(unit.state),
                "endpoint": endpoint,
                "pid": procs[0].pid if procs else None,
            }
        )
    return rows
