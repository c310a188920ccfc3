"""A service's output: kept as a tail in memory, appended to its log file, sent to listeners."""

from __future__ import annotations

import collections
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

LineListener = Callable[[str, str], None]
"""Called as `listener(service, line)` for every line a service writes."""


class ServiceLog:
    """Lines written by one service's processes (and its own code via `ctx.log`)."""

    def __init__(self, service: str, path: Path | None = None, keep: int = 2000) -> None:
        self.service = service
        self.path = path
        self._tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._count = 0
        self._listeners: list[LineListener] = []
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", buffering=1, encoding="utf-8", errors="replace")

    def listen(self, fn: LineListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def write(self, line: str) -> None:
        line = line.rstrip("\r\n")
        with self._lock:
            self._tail.append(line)
            self._count += 1
            if self._file is not None:
                self._file.write(line + "\n")
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
