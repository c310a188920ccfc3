"""log: passes when the service's output has a line matching a regex (since it was started)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..context import ServiceContext
from .registry import ProbeType


@dataclass(frozen=True)
class LogProbe:
    pattern: str
    since: int = 0  # log mark: only lines written after it count
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def describe(self) -> str:
        return f"log /{self.pattern}/"

    def after(self, mark: int) -> LogProbe:
        return LogProbe(self.pattern, mark)

    async def check(self, ctx: ServiceContext) -> str | None:
        if ctx.log.search(self._regex, self.since):
            return None
        return "no matching line yet"


def log(pattern: str) -> LogProbe:
    """Ready when a line of the service's output matches `pattern` (a Python regex)."""
    return LogProbe(pattern)


def _parse(pattern: str) -> LogProbe:
    try:
        return log(pattern)
    except re.error as e:
        raise ValueError(f"not a valid regex: {e}") from None


PROBE = ProbeType(key="log", order=40, value=str, parse=_parse)
"""`ready = { log = "regex" }`. No container probe: a container's log is not its health."""
