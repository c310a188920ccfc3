"""What every probe is: a description for people, and an async check that says why it failed."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..context import ServiceContext


@runtime_checkable
class Probe(Protocol):
    """A readiness or liveness check. `check` returns None when it passes, else why not."""

    def describe(self) -> str: ...

    async def check(self, ctx: ServiceContext) -> str | None: ...


def describe_for(probe: Any, ctx: ServiceContext) -> str:
    """What the probe checks for this service, templates filled in (`http
    http://127.0.0.1:41234/health`): its `resolved(ctx)` if it has one, else its description."""
    resolved = getattr(probe, "resolved", None)
    try:
        return str(resolved(ctx)) if resolved is not None else str(probe.describe())
    except Exception:  # a template that cannot be filled yet: say it as written
        return str(probe.describe())


def why_not(error: BaseException) -> str:
    """Why a connection failed, in words: refused, reset, timed out, or the system's reason.
    Looks through the exceptions a client library wrapped around the socket's own."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(seen, ConnectionResetError):
            return "connection reset by the other side"
        if isinstance(seen, TimeoutError):
            return "timed out"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    return f"{type(error).__name__}: {error}"
