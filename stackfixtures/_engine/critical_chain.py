"""The startup critical chain: which service waited for which, and how long (like
`systemd-analyze critical-chain`), computed from the event log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .events import Event


@dataclass(frozen=True)
class Link:
    service: str
    started_at: float  # seconds after the first service started
    took: float  # seconds from starting to ready


def critical_chain(
    events: Iterable[Event], dependencies: Callable[[str], Iterable[str]]
) -> list[Link]:
    """From the service that became ready last back to one that waited for nothing: at each
    step, the dependency that became ready last (the one it really waited for). A task is
    ready when it completed: its dependents waited for that."""
    starting: dict[str, float] = {}
    ready: dict[str, float] = {}
    for e in events:
        if e.target == "starting":
            starting.setdefault(e.service, e.time)
        elif e.target in ("ready", "completed") and e.source == "starting":  # (a task: done)
            ready.setdefault(e.service, e.time)
    if not ready:
        return []
    origin = min(starting.values())
    chain: list[Link] = []
    current: str | None = max(ready, key=lambda n: ready[n])
    while current is not None:
        chain.append(
            Link(
                current,
                round(starting[current] - origin, 3),
                round(ready[current] - starting[current], 3),
            )
        )
        deps = [d for d in dependencies(current) if d in ready]
        current = max(deps, key=lambda d: ready[d]) if deps else None
    return chain


def describe(chain: list[Link]) -> str:
    """`api_gateway @0.21s +0.85s <- postgres @0.00s +0.21s`."""
    return " <- ".join(
        f"{link.service} @{link.started_at:.2f}s +{link.took:.2f}s" for link in chain
    )
