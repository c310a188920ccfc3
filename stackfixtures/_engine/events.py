"""Events: every lifecycle transition, timestamped, written as JSONL (0600, reasons masked, a
full disk noted rather than raised) and sent to subscribers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .logfile import LogFile

UNBOUNDED = 2**62
"""The event log is never rotated (its LogLimit's max_size): `stack events` and the report read
all of it."""


@dataclass(frozen=True)
class Event:
    """One line of the event log: `{"time", "service", "from", "to", "reason", ...extra}`."""

    time: float
    service: str
    source: str
    target: str
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self.time,
            "service": self.service,
            "from": self.source,
            "to": self.target,
            "reason": self.reason,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        known = {"time", "service", "from", "to", "reason"}
        return cls(
            time=data["time"],
            service=data["service"],
            source=data["from"],
            target=data["to"],
            reason=data.get("reason", ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


Subscriber = Callable[[Event], None]
log = logging.getLogger("stackfixtures.events")


class EventLog:
    """Keeps every event in memory, appends it to a JSONL file, and calls subscribers."""

    def __init__(self, path: Path | None = None) -> None:
        self.events: list[Event] = []
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self.path = path
        self.mask: Callable[[str], str] = lambda text: text  # the stack's secrets (logs.Logs)
        self._file: LogFile | None = None
        if path is not None:  # (the file's modules only here: `stack events` reads Events)
            from .._define.policies import LogLimit
            from .logfile import LogFile

            self._file = LogFile(path, LogLimit(max_size=UNBOUNDED, keep=0), self._problem)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    def emit(self, service: str, source: str, target: str, reason: str = "", **extra: Any) -> Event:
        event = Event(time.time(), service, source, target, self.mask(reason), extra)
        with self._lock:
            self.events.append(event)
            if self._file is not None:
                self._file.write(json.dumps(event.to_json(), default=str))
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("event subscriber %r failed", fn)
        return event

    @property
    def problem(self) -> str | None:
        """Why events are not reaching the file now (e.g. a full disk), else None."""
        return self._file.problem if self._file is not None else None

    def _problem(self, problem: str | None) -> None:
        if problem is not None:  # the events stay in memory: status and `stack events` show them
            log.warning("%s", problem)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: Path) -> list[Event]:
    """Parse a JSONL event log written by EventLog."""
    with path.open(encoding="utf-8") as f:
        return [Event.from_json(json.loads(line)) for line in f if line.strip()]
