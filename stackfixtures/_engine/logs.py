"""A service's output, its secrets masked first: kept as a tail in memory, appended to its log
file (logfile.py: private, bounded, safe on a full disk), sent to listeners."""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._define.policies import LogLimit
from .logfile import LogFile
from .masking import Secrets

if TYPE_CHECKING:
    from .._define.service import ServiceDefinition
    from .events import EventLog

LineListener = Callable[[str, str], None]
"""Called as `listener(service, line)` for every line a service writes."""


class ServiceLog:
    """Lines written by one service's processes (and its own code via `ctx.log`)."""

    def __init__(
        self,
        service: str,
        path: Path | None = None,
        keep: int = 2000,
        limit: LogLimit | None = None,
        secrets: Secrets | None = None,
        on_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self.service = service
        self.path = path
        self.secrets = secrets or Secrets()
        self._tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._times: collections.deque[float] = collections.deque(maxlen=keep)  # epoch, per line
        self._count = 0
        self._listeners: list[LineListener] = []
        self._lock = threading.Lock()
        self._file = LogFile(path, limit, on_problem) if path is not None else None

    @property
    def problem(self) -> str | None:
        """Why its lines are not reaching its file now (e.g. a full disk), else None."""
        return self._file.problem if self._file is not None else None

    def listen(self, fn: LineListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def write(self, line: str) -> None:
        line = self.secrets.mask(line.rstrip("\r\n"))
        with self._lock:
            self._tail.append(line)
            self._times.append(time.time())
            self._count += 1
            if self._file is not None:
                self._file.write(line)
        for fn in list(self._listeners):
            try:
                fn(self.service, line)
            except Exception:  # e.g. a closed pipe downstream: keep logging to the file
                logging.getLogger("stackfixtures.logs").exception("log listener %r failed", fn)

    @property
    def mark(self) -> int:
        """How many lines were written so far; pass to `since()` to get what came after."""
        return self._count

    def since(self, mark: int) -> list[str]:
        with self._lock:
            new = self._count - mark
            if new <= 0:
                return []
            return list(self._tail)[-min(new, len(self._tail)) :]

    def tail(self, n: int = 20) -> list[str]:
        with self._lock:
            return list(self._tail)[-n:] if n > 0 else []

    def read(self, mark: int | None, n: int) -> tuple[list[str], list[float], int]:
        """At once: the lines after `mark` (else the last `n`), when each was written (epoch
        seconds, for `stack logs -t`), and the mark to read on from."""
        with self._lock:
            count = self._count - mark if mark is not None else n
            count = max(0, min(count, len(self._tail)))
            if not count:
                return [], [], self._count
            return list(self._tail)[-count:], list(self._times)[-count:], self._count

    def search(self, pattern: re.Pattern[str], since: int = 0) -> re.Match[str] | None:
        for line in self.since(since):
            m = pattern.search(line)
            if m:
                return m
        return None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class Logs:
    """The service logs of one stack: `<dir>/<service>.log`, masked with the stack's secrets
    (which mask its events too); a log that cannot be written says so in an event."""

    def __init__(self, directory: Path, events: EventLog) -> None:
        self.directory = directory
        self.events = events
        self.secrets = Secrets()
        events.mask = self.secrets.mask

    def open(self, definition: ServiceDefinition, state: Callable[[], Any]) -> ServiceLog:
        """The log of `definition`'s service; `state()` is its state now (for the event)."""
        name = definition.name
        self.secrets.add(definition.config)
        self.secrets.add(definition.env)

        def said(problem: str | None) -> None:
            now = str(state())
            why = problem or f"its log {self.directory / f'{name}.log'} is written again"
            self.events.emit(name, now, now, why, log_error=problem)

        path = self.directory / f"{name}.log"
        return ServiceLog(name, path, limit=definition.logs, secrets=self.secrets, on_problem=said)
