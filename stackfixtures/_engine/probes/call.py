"""call: any async callable is a probe. It passes unless it raises or returns False."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..context import ServiceContext
from .base import describe_for

Check = Callable[[ServiceContext], Awaitable[Any]]


@dataclass(frozen=True)
class CallProbe:
    fn: Check
    name: str = ""

    def describe(self) -> str:
        return self.name or getattr(self.fn, "__qualname__", repr(self.fn))

    async def check(self, ctx: ServiceContext) -> str | None:
        try:
            result = await self.fn(ctx)
        except Exception as e:  # a failing user check is an answer, not a crash
            return f"{type(e).__name__}: {e}"
        return "returned False" if result is False else None


def call(fn: Check, name: str = "") -> CallProbe:
    """Ready when `await fn(ctx)` returns without raising and does not return False."""
    return CallProbe(fn, name)


@dataclass(frozen=True)
class AllProbe:
    """Every probe in order must pass."""

    probes: tuple[Any, ...]

    def describe(self) -> str:
        return " + ".join(p.describe() for p in self.probes)

    def resolved(self, ctx: ServiceContext) -> str:
        return " + ".join(describe_for(p, ctx) for p in self.probes)

    async def check(self, ctx: ServiceContext) -> str | None:
        for p in self.probes:
            why = await p.check(ctx)
            if why is not None:
                return f"{p.describe()}: {why}"
        return None


def all_(*probes: Any) -> AllProbe:
    """Ready when every probe passes, checked in order (e.g. tcp first, then a real query)."""
    return AllProbe(tuple(probes))
