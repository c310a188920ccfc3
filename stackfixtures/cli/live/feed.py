"""What the live view shows, read through the control protocol alone: each service's row
(status figures, plus why it is in its state and how long its last start took, from the
events) and the log lines written since the last look, passwords masked as `stack run` prints
them. No terminal code here."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..._control.console import mask
from ..._control.protocol import StackControl
from ..._engine.events import Event
from ...errors import ControlError, NotRunning

LOG_LINES = 500
"""Lines kept per service (and for all services together) for the log pane."""

STATUS_EVERY = 1.0
"""Seconds between status reads (CPU percentages are measured between two reads)."""

GONE = (NotRunning, OSError)
"""What a control raises once its launcher has exited."""


@dataclass
class Row:
    """One line of the services table."""

    name: str
    state: str
    why: str = ""
    ready_s: float | None = None
    restarts: int = 0
    last_exit: int | None = None
    health: str = ""
    endpoint: str = ""
    rss_mb: float | None = None
    cpu_percent: float | None = None

    def cells(self) -> list[str]:
        """The table's text cells after name and state."""
        return [
            self.why,
            "" if self.ready_s is None else f"{self.ready_s:.2f}s",
            str(self.restarts),
            "" if self.last_exit is None else str(self.last_exit),
            self.health if self.health != "unknown" else "",
            self.endpoint,
            "" if self.rss_mb is None else f"{self.rss_mb:.1f}",
            "" if self.cpu_percent is None else f"{self.cpu_percent:.0f}",
        ]


COLUMNS = ["service", "state", "why", "ready", "restarts", "exit", "health", "endpoint"]
COLUMNS += ["RSS MB", "CPU %"]


@dataclass
class Snapshot:
    """The stack as last seen."""

    stack: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (service, line), new ones
    events: list[Event] = field(default_factory=list)  # new ones
    gone: bool = False  # the launcher has exited


class Feed:
    """Reads a StackControl incrementally: events and log lines after the last marks."""

    def __init__(self, control: StackControl) -> None:
        self.control = control
        self.seen = 0
        self.marks: dict[str, int] = {}
        self.last: dict[str, Event] = {}
        self.ready_s: dict[str, float] = {}
        self.status: dict[str, Any] = {}
        self.status_at = 0.0

    def poll(self, wait: float = 0.5) -> Snapshot:
        """Whatever changed, waiting up to `wait` seconds for something to change."""
        try:
            events = self.control.events(since=self.seen, wait=wait)
            self.seen += len(events)
            for e in events:
                self.last[e.service] = e
                if e.target == "ready" and "ready_s" in e.extra:
                    self.ready_s[e.service] = float(e.extra["ready_s"])
            now = time.monotonic()
            if events or now - self.status_at >= STATUS_EVERY or not self.status:
                self.status, self.status_at = self.control.status(), now
            lines = self._lines()
        except GONE:
            return Snapshot(stack=self.status.get("stack", {}), rows=self.rows(), gone=True)
        except ControlError:  # e.g. its server shutting down while the stack stops: look again
            time.sleep(wait)
            return Snapshot(self.status.get("stack", {}), self.rows())
        return Snapshot(self.status.get("stack", {}), self.rows(), lines, events)

    def _lines(self) -> list[tuple[str, str]]:
        if self.marks:
            chunks = self.control.logs(since=self.marks)
        else:
            chunks = self.control.logs(n=LOG_LINES)
        out = []
        for name, chunk in chunks.items():
            self.marks[name] = chunk["mark"]
            out += [(name, mask(line)) for line in chunk["lines"]]
        return out

    def rows(self) -> list[Row]:
        """Every service of the stack that is part of it (not a pending bystander)."""
        chosen = set(self.status.get("stack", {}).get("services") or [])
        out = []
        for s in self.status.get("services", []):
            name = s["name"]
            if s["state"] == "pending" and chosen and name.split(".")[0] not in chosen:
                continue
            last = self.last.get(name)
            out.append(
                Row(
                    name=name,
                    state=s["state"],
                    why=mask(last.reason) if last is not None else "",
                    ready_s=self.ready_s.get(name),
                    restarts=int(s.get("restarts") or 0),
                    last_exit=s.get("last_exit_code"),
                    health=str(s.get("health") or ""),
                    endpoint=mask(str(s.get("endpoint") or "")),
                    rss_mb=s.get("rss_mb"),
                    cpu_percent=s.get("cpu_percent"),
                )
            )
        return out


class Tail:
    """The last LOG_LINES lines of each service, and of all of them together."""

    def __init__(self) -> None:
        self.each: dict[str, deque[str]] = {}
        self.all: deque[tuple[str, str]] = deque(maxlen=LOG_LINES)

    def add(self, lines: list[tuple[str, str]]) -> None:
        for name, line in lines:
            self.each.setdefault(name, deque(maxlen=LOG_LINES)).append(line)
            self.all.append((name, line))

    def of(self, name: str | None) -> list[str]:
        """The lines to show: one service's, or every service's prefixed with its name."""
        if name is None:
            return self.prefixed(list(self.all))
        return list(self.each.get(name, ()))

    def prefixed(self, lines: list[tuple[str, str]]) -> list[str]:
        """`name | line`, the names padded alike (as `stack run` prints them)."""
        width = max((len(n) for n in self.each), default=0)
        return [f"{n:<{width}} | {line}" for n, line in lines]
