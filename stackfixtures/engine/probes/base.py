"""What every probe is: a description for people, and an async check that says why it failed."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..context import ServiceContext


@runtime_checkable
class Probe(Protocol):
    """A readiness or liveness check. `check` returns None when it passes, else why not."""

    def describe(self) -> str: ...

    async def check(self, ctx: ServiceContext) -> str | None: ...
