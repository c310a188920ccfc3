"""A service as a row of status: its figures, its endpoint, its replicas. What `stack status`,
the ready table of `stack run` and the Prometheus metrics show."""

from __future__ import annotations

from typing import Any

from .._define.service import attributes
from .lifecycle import UP, State
from .stack import Stack
from .unit import Unit


def endpoint_of(handle: Any) -> str:
    """The handle's address for people: its `endpoint`, `url`, `dsn` or host:port."""
    attrs = attributes(handle)
    return str(
        attrs.get("endpoint")
        or attrs.get("url")
        or attrs.get("dsn")
        or (f"{attrs['host']}:{attrs['port']}" if attrs.get("host") and attrs.get("port") else "")
    )


def row(stack: Stack, name: str) -> dict[str, Any]:
    """Everything status shows about one service."""
    unit = stack.units[name]
    figures = stack.metrics(name)
    up = unit.state in UP
    figures["endpoint"] = endpoint_of(unit.handle) if up else ""
    figures["handle"] = attributes(unit.handle) if up else {}
    figures["kind"] = unit.definition.kind
    # failed for good: no restart to come (its readiness was settled with the error)
    figures["gave_up"] = unit.gave_up
    figures["replicas"] = len(stack.replicas(name)) if "." not in name else None
    return figures


def rows(stack: Stack, names: list[str] | None = None) -> list[dict[str, Any]]:
    return [row(stack, n) for n in (stack.units if names is None else names)]


def endpoints(stack: Stack, names: list[str]) -> list[dict[str, Any]]:
    """Name, state, endpoint and pid only: the table `stack run` prints the moment the stack
    is ready, without measuring memory and CPU on the way."""
    out = []
    for name in names:
        unit = stack.units[name]
        procs = unit.processes
        out.append(
            {
                "name": name,
                "state": str(unit.state),
                "endpoint": endpoint_of(unit.handle) if unit.state in UP else "",
                "pid": procs[0].pid if procs else None,
            }
        )
    return out


def progress(stack: Stack, unit: Unit, now: float, after: float) -> str:
    """A line for people while `unit` has been starting (or waiting for its dependencies) for
    at least `after` seconds: what it waits for and the last answer; "" otherwise."""
    elapsed = now - unit.lifecycle.since
    if elapsed < after:
        return ""
    if unit.state is State.WAITING:
        pending = [d for d in unit.definition.dependencies if stack.units[d].state not in UP]
        return f"{unit.name}: still waiting after {elapsed:.0f}s for {', '.join(pending)}"
    if unit.state is not State.STARTING:
        return ""
    ctx = unit.ctx
    text = f"{unit.name}: still starting after {elapsed:.0f}s"
    if ctx is not None and ctx.waiting_for:
        text += f": waiting for {ctx.waiting_for}"
        if ctx.last_probe_error:
            text += f" (last: {ctx.last_probe_error})"
    else:
        text += " (its code has not handed out its handle yet)"
    return text + f"; gives up after {unit.definition.timeout:g}s"
