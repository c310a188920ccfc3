"""A service as a row of status: its figures, its endpoint, its replicas. What `stack status`,
the ready table of `stack run` and the Prometheus metrics show."""

from __future__ import annotations

from typing import Any

from .stack import Stack


def endpoint_of(handle: Any) -> str:
    """The handle's address for people: its `endpoint`, `url`, `dsn` or host:port."""
    attrs = vars(handle) if handle is not None and hasattr(handle, "__dict__") else {}
    return str(
        attrs.get("endpoint")
        or attrs.get("url")
        or attrs.get("dsn")
        or (f"{attrs['host']}:{attrs['port']}" if "host" in attrs and "port" in attrs else "")
    )


def row(stack: Stack, name: str) -> dict[str, Any]:
    """Everything status shows about one service."""
    figures = stack.metrics(name)
    figures["endpoint"] = endpoint_of(stack.units[name].handle)
    figures["replicas"] = len(stack.replicas(name)) if "." not in name else None
    return figures


def rows(stack: Stack, names: list[str] | None = None) -> list[dict[str, Any]]:
    return [row(stack, n) for n in (stack.units if names is None else names)]
