"""Supervision decisions: whether and when a failed service is restarted (back-off, circuit
breaker), and which running dependents a service going down concerns (edges)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

from .._define.graph import Graph, walk
from ..errors import StartError
from .activity import Activity
from .events import EventLog
from .lifecycle import UP
from .unit import Unit


def restart_delay(unit: Unit) -> tuple[float | None, str]:
    """(seconds until the next restart, why), or (None, why not) when it gives up. Opens the
    circuit when the restarts within the policy's window are used up."""
    policy = unit.definition.restart
    if not policy.wants_restart(unit.last_exit_code):
        return None, f"restart policy {policy.policy!r}"
    now = time.monotonic()
    while unit.restart_times and now - unit.restart_times[0] > policy.window:
        unit.restart_times.popleft()
    if len(unit.restart_times) >= policy.max_restarts:
        unit.circuit_open = True
        return None, f"circuit open: {len(unit.restart_times)} restarts within {policy.window:g}s"
    unit.restart_times.append(now)
    attempt = len(unit.restart_times)
    delay = policy.delay_for(attempt)
    return delay, f"restart {attempt}/{policy.max_restarts} in {delay:.2f}s"


def give_up(unit: Unit, why: str, events: EventLog) -> None:
    """No more automatic restarts: settle its readiness with the last error."""
    error = unit.last_error or StartError(unit.name, "failed", why)
    if unit.circuit_open:
        events.emit(
            unit.name, "failed", "failed", why, circuit="open", restarts=len(unit.restart_times)
        )
    if not unit.ready.done():
        unit.ready.set_exception(error)


def close_circuit(unit: Unit) -> None:
    """A successful start or a restart by hand: the restart budget starts afresh."""
    unit.circuit_open = False
    unit.restart_times.clear()


async def sleep_or_stop(unit: Unit, seconds: float) -> bool:
    """Wait `seconds`; False if a stop was requested meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await unit.stop_requested.wait()
    return not unit.stop_requested.is_set()


async def crash_noticed(unit: Unit, activity: Activity, timeout: float) -> bool:
    """Wait (up to `timeout`) until a process of `unit` has exited on its own and the engine has
    acted on it: the unit is no longer up, so a following wait for READY waits for its return."""
    if (ctx := unit.ctx) is None:
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await ctx.crashed.wait()
            while unit.ctx is ctx and unit.state in UP:
                await activity.wait(0.05)
    return ctx.crash is not None


def restart_edges(affected: Mapping[str, str]) -> set[str]:
    """Of the services `affected` returns, those that restart (the rest stop)."""
    return {name for name, edge in affected.items() if edge == "restart"}


def restarting(units: Mapping[str, Unit], names: set[str]) -> list[str]:
    """The dependents a service's return brings back (its `cascade`), in order; each counts a
    restart, as one by hand or by its own policy does (status' RESTARTS)."""
    for name in names:
        if name in units:
            units[name].restarts += 1
    return sorted(names)


def affected(graph: Graph, units: Mapping[str, Unit], name: str) -> dict[str, str]:
    """Running services that must react when `name` goes down, with how: each follows its own
    edge ("restart" or "stop"; "ignore" keeps it running), transitively."""
    found: dict[str, str] = {}

    def step(current: str) -> list[str]:
        """The running dependents `current` takes down with it, each labelled as it is met:
        its own edge, or "stop" below one that stops (it will not come back to restart for)."""
        reached = []
        for dependent in graph.dependents(current):
            edge = units[dependent].definition.edge(current)
            if edge == "ignore" or dependent in found or not units[dependent].active:
                continue
            found[dependent] = edge if found.get(current, "restart") == "restart" else "stop"
            reached.append(dependent)
        return reached

    walk([name], step)
    return found
