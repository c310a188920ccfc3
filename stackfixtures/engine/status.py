"""A service as a row of status: its figures, its endpoint, its replicas. What `stack status`,
the ready table of `stack run` and the Prometheus metrics show."""

from __future__ import annotations

from typing import Any

from ..define.service import attributes
from .lifecycle import UP
from .stack import Stack


def endpoint_of(handle: Any) -> str:
    """The handle's address for people: its `endpoint`, `url`, `dsn` or host:port."""
    attrs = attributes(handle) if hasattr(handle, "__dict__") else {}
    return str(
        attrs.get("endpoint")
        or attrs.get("url")
        or attrs.get("dsn")
        or (f"{attrs['host']}:{attrs['port']}" if "host" in attrs and "port" in attrs else "")
    )


def row(stack: Stack, name: str) -> dict[str, Any]:
    """Everything status shows about one service."""
    unit = stack.units[name]
    figures = stack.metrics(name)
    up = unit.state in UP
    figures["endpoint"] = endpoint_of(unit.handle) if up else ""
    figures["handle"] = attributes(unit.handle) if up else {}
    figures["kind"] = unit.definition.kind
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
