"""The stack: runs a graph's services, each gated on its dependencies being READY, supervises them
while they run, and stops them dependents-first. Every service is just a generator; the engine
knows no kinds. One service's life is in service_life.py, restart decisions in supervisor.py."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._define.bus import BusTarget
from .._define.graph import Graph
from .._define.service import DEFAULT_PARALLELISM, ServiceDefinition
from ..errors import RequestRefused, ServiceError, StartError
from . import resources, state_dirs, supervisor
from .activity import Activity
from .bus.publisher import Publisher
from .cleanup import leftovers
from .cleanup.ledger import Ledger
from .context import ServiceContext
from .events import EventLog
from .lifecycle import UP, Lifecycle, State
from .logs import LineListener, Logs
from .metrics import Meter
from .ports import bindable
from .records import ServiceStop
from .service_life import ServiceLife
from .tasks import TaskOwner
from .threads import SyncThreads
from .unit import Unit

__all__ = ["ServiceStop", "Stack", "Unit"]


class Stack:
    """Runs the services of a Graph in one event loop."""

    def __init__(
        self,
        graph: Graph,
        *,
        state_dir: Path,
        root: Path | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        on_output: LineListener | None = None,
        stack_id: str | None = None,
        events: EventLog | None = None,
        mode: str | None = None,
        record: bool = True,
        bus: BusTarget | None = None,
    ) -> None:
        self.graph = Graph(dict(graph.definitions))  # our own copy: replicas are added to it
        self.root = Path(root) if root else Path.cwd()
        self.state_dir = Path(state_dir)
        state_dirs.make(self.state_dir, "Stack", root=self.root)  # 0700, with its marker
        self.stack_id = stack_id or uuid.uuid4().hex[:12]
        self.events = events or EventLog(self.state_dir / "events.jsonl")
        self.logs = Logs(self.state_dir / "logs", self.events)  # masks the events too
        self._on_output = on_output
        self.starting = asyncio.Semaphore(max(1, parallelism))
        self.hurry, self.mode = asyncio.Event(), mode
        self.threads = SyncThreads()  # where sync services' code runs: bounded, abandoned aloud
        self.ledger = Ledger(self.state_dir, self.stack_id, self.root) if record else None
        self.lives, self.background = TaskOwner("service"), TaskOwner("restart-dependents")
        self.activity = Activity()
        self.events.subscribe(lambda _e: self.activity.poke())
        self.meter = Meter()
        self.units: dict[str, Unit] = {}
        for definition in graph.definitions.values():
            self._add_unit(definition)
        for definition in graph.definitions.values():
            for i in range(2, definition.replicas + 1):
                self._add_replica(definition, i)
        self.bus = Publisher(bus, self.events, self.handles, self.activity) if bus else None

    def _add_unit(self, definition: ServiceDefinition) -> Unit:
        name = definition.name
        log = self.logs.open(definition, lambda: self.units[name].state)
        if self._on_output is not None:
            log.listen(self._on_output)
        log.listen(lambda _s, _l: self.activity.poke())
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
        if unit.state not in UP:
            raise ServiceError(name, str(unit.state), "is not ready", unit.log.tail())
        return unit.handle

    def handles(self) -> dict[str, Any]:
        return {n: u.handle for n, u in self.units.items() if u.state in UP}

    def running(self) -> list[str]:
        return [n for n, u in self.units.items() if u.active]

    def processes(self, name: str) -> list[Any]:
        """The live processes the service runs now (its main processes, not their children)."""
        return self.units[name].processes

    def metrics(self, name: str) -> dict[str, Any]:
        """State, pids, uptime, restarts, last exit code, RSS, CPU, health, probe latency."""
        return self.meter.measure(self.units[name])

    async def wait_for(self, name: str, state: State, timeout: float = 30.0) -> None:
        """Return once `name` is in `state`; TimeoutError after `timeout` seconds."""
        deadline, unit = time.monotonic() + timeout, self.units[name]
        while unit.state is not state:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{name} is {unit.state}, not {state}, after {timeout:g}s")
            await self.activity.wait(left)

    async def exit_noticed(self, name: str, timeout: float) -> bool:
        """Wait until the engine has noticed a process of `name` exit on its own (a crash)."""
        return await supervisor.crash_noticed(self.units[name], self.activity, timeout)

    def context_for(self, unit: Unit) -> ServiceContext:
        """A fresh context for the next incarnation of `unit` (its port kept if still free)."""
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
        previous = unit.ctx.port_if_chosen if unit.ctx is not None else None
        if previous is not None and bindable(previous, ctx.host):
            ctx.keep_port(previous)  # a restarted service keeps its address: handles stay valid
        state_dirs.subdir(ctx.state_dir)
        unit.ctx = ctx
        return ctx

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
            if unit.gave_up and not retry_failed:
                continue
            if unit.state in (State.STOPPED, State.FAILED, State.PENDING):
                unit.reset()
            unit.circuit_open = False
            unit.task = self.lives.spawn(ServiceLife(self, unit).run(), name)
        await asyncio.wait([self.units[n].ready for n in order])
        for name in [*wanted, *order]:
            fut = self.units[name].ready
            err = fut.exception() if fut.done() else None
            if err is not None:
                raise err
        return {n: self.units[n].handle for n in wanted}

    # ------------------------------------------------------------------ cascades

    async def stop_dependents(self, unit: Unit, cause: str = "") -> None:
        """Stop the dependents a failure of `unit` concerns, saying why (`postgres failed:
        killed by SIGKILL`); remember which to start again."""
        affected = supervisor.affected(self.graph, self.units, unit.name)
        if not affected:
            return
        why = cause or f"{unit.name} is down"
        for name in affected:
            self.units[name].log.write(f"[stackfixtures] stopping: {why}")
        unit.cascade |= supervisor.restart_edges(affected)
        await self._stop_set(list(affected), dict.fromkeys(affected, why))

    def restart_dependents(self, unit: Unit) -> None:
        """`unit` is READY again: start what its failure or restart stopped."""
        if not unit.cascade or self.background.closed:  # (closing: nothing comes back)
            return
        names, unit.cascade = supervisor.restarting(self.units, unit.cascade), set()
        self.background.spawn(self._start_quietly(names), ",".join(names))

    async def _start_quietly(self, names: list[str]) -> None:
        with contextlib.suppress(StartError):
            await self.start(names)

    # ------------------------------------------------------------------ operate

    async def restart(self, name: str, reason: str | None = None) -> Any:
        """Restart `name` by hand: its dependents follow their edges (stopped before it goes
        down, started again once it is READY). Closes an open circuit. Returns its handle.
        `reason` (e.g. "restarting (changed: app.py)") is the STOPPING and WAITING events'."""
        unit = self.units[name]
        unit.start_reason = reason
        affected = supervisor.affected(self.graph, self.units, name)
        unit.cascade |= supervisor.restart_edges(affected)
        reasons = dict.fromkeys(affected, f"{name} is restarting")
        await self._stop_set([*affected, name], {**reasons, name: reason or "restart requested"})
        supervisor.close_circuit(unit)
        unit.restarts += 1
        handles = await self.start([name])
        if brought_back := self.background.running():  # the dependents it brought back
            await asyncio.wait(brought_back)
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
                affected.update(supervisor.affected(self.graph, self.units, name))
        reasons = {n: "its definition changed" for n in changed}
        await self._stop_set(list(affected), reasons)
        for name in changed:
            self.units[name].definition = self.graph.definitions[name] = definitions[name]
        again = supervisor.restarting(self.units, supervisor.restart_edges(affected))
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
            why = f"cannot scale {name!r}: it does not allow replicas (declare it with `replicas`)"
            raise RequestRefused(why)
        if replicas < 1:
            why = f"cannot scale {name!r} to {replicas} replicas: at least 1 (`stack stop` it"
            raise RequestRefused(why + " to run none)")
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
            state = self.units[name].state
            raise RequestRefused(f"service {name!r} ({state}) has no running process to signal")
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

    async def stop(
        self, names: Iterable[str] | None = None, sweep: bool = True
    ) -> list[ServiceStop]:
        """Stop `names` (default: everything running) and whatever depends on them.

        A service is asked to stop only after all its running dependents have stopped;
        independent branches stop in parallel. Returns one record per service stopped.
        `sweep=False` leaves the search for processes that left their groups to the caller
        (the launcher hands it to its watchdog, off the critical path of its exit)."""
        asked = list(self.graph.names if names is None else names)
        targets = self.graph.dependents_closure(asked)
        for unit in self.units.values():  # stopped on purpose: no cascade brings them back
            unit.cascade.difference_update(targets)
        reasons = {}
        if names is not None:  # a dependent goes first because what it needs is stopping
            for name in targets:
                needs = [d for d in self.graph.dependencies(name) if d in targets]
                if name not in asked and needs:
                    reasons[name] = f"{needs[0]} is stopping"
        return await self._stop_set(targets, reasons, sweep)

    async def _stop_set(
        self, targets: list[str], reasons: dict[str, str] | None = None, sweep: bool = True
    ) -> list[ServiceStop]:
        """Stop exactly `targets`, each after those of its dependents that are in the set;
        `reasons` says why, for those not stopped on their own account."""
        tasks = {n: t for n in targets if (t := self.units[n].task) is not None and not t.done()}
        for n in tasks:
            self.units[n].last_stop = None

        async def stop_one(name: str) -> ServiceStop | None:
            unit = self.units[name]
            blockers = [
                tasks[d] for d in self.graph.dependents_closure([name]) if d != name and d in tasks
            ]
            if self.bus is not None and self.bus.target.service == name:  # the events' bus:
                await self.bus.before_stop(tasks, self.graph.closure([name]), self.hurry)
            elif blockers:
                await asyncio.wait(blockers)
            unit.stop_reason = (reasons or {}).get(name, "")
            unit.stop_requested.set()
            await asyncio.wait([tasks[name]])
            return unit.last_stop

        results = [r for r in await asyncio.gather(*(stop_one(n) for n in tasks)) if r is not None]
        if tasks and sweep:
            await leftovers.sweep(self.stack_id, self.units, results)
        return results

    async def close(self, sweep: bool = True) -> list[ServiceStop]:
        """Stop everything and close the event log."""
        try:  # shared helpers first (they use the services), cut short by a hurry
            await self.background.aclose()  # the starts a restart's return began: cancelled
            await resources.close(self.stack_id, self.hurry)
        finally:
            try:
                stops = await self.stop(sweep=sweep)
                await self.lives.aclose()  # each unit's life: ended by the stop, awaited here
            finally:
                if self.bus is not None:  # the last events delivered if it can, then ended
                    await self.bus.close()
        for unit in self.units.values():
            unit.log.close()
        self.events.close()
        if self.ledger is not None and not self.running():
            self.ledger.close()
        return stops

    def force(self) -> None:
        """Skip the remaining grace of every stop in progress (a second Ctrl-C)."""
        self.hurry.set()
