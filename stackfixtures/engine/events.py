"""Events: every lifecycle transition, timestamped, written as JSONL and sent to subscribers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


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
        self._file: TextIO | None = None
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", buffering=1, encoding="utf-8")

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    def emit(self, service: str, source: str, target: str, reason: str = "", **extra: Any) -> Event:
        event = Event(time.time(), service, source, target, reason, extra)
        with self._lock:
            self.events.append(event)
            if self._file is not None:
                self._file.write(json.dumps(event.to_json(), default=str) + "\n")
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("event subscriber %r failed", fn)
        return event

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: Path) -> list[Event]:
    """Parse a JSONL event log written by EventLog."""
    with path.open(encoding="utf-8") as f:
        return [Event.from_json(json.loads(line)) for line in f if line.strip()]
