"""One log file on disk: 0600, rotated at a size bound (`app.log` -> `app.log.1` ... `.N`), and
never a crash when the disk is full: a failed write is dropped whole (a partial line is cut
off again), said once through `on_problem`, retried now and then, and said again once it works."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

from .._define.policies import LogLimit
from . import private_files, state_dirs

RETRY_EVERY = 1.0
"""Seconds between attempts to write again after a write failed (a full disk)."""

Problem = Callable[[str | None], None]
"""Told the problem when writing starts failing, and None when it works again."""


class LogFile:
    """Appends lines to `path`; thread-unsafe (its owner holds a lock)."""

    def __init__(
        self, path: Path, limit: LogLimit | None = None, on_problem: Problem | None = None
    ):
        self.path = path
        self.limit = limit or LogLimit()
        self.on_problem = on_problem
        self.problem: str | None = None  # why lines are not being written, while they are not
        self.dropped = 0
        self._fd: int | None = None
        self._size = 0
        self._failed_at = 0.0
        self._closed = False

    def write(self, line: str) -> None:
        if self._closed:
            return
        if self.problem is not None and time.monotonic() - self._failed_at < RETRY_EVERY:
            self.dropped += 1
            return
        data = (line + "\n").encode("utf-8", errors="replace")
        try:
            self._append(data)
        except OSError as e:
            self._failed(e)
            return
        if self.problem is not None:
            self._recovered()

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            state_dirs.subdir(self.path.parent)  # 0700
            self._fd = private_files.open_append(self.path)
            self._size = os.fstat(self._fd).st_size
        if self._size and self._size + len(data) > self.limit.max_size:
            self._rotate()
        assert self._fd is not None
        start, view = self._size, memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):  # no half line left behind
                os.ftruncate(self._fd, start)
            raise
        self._size = start + len(data)

    def _rotate(self) -> None:
        """`app.log.N-1` -> `.N`, ..., `app.log` -> `.1`; then a fresh `app.log`."""
        self._close_fd()
        keep = self.limit.keep
        if keep == 0:
            self.path.unlink(missing_ok=True)
        else:
            for i in range(keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._fd = private_files.open_append(self.path)
        self._size = 0

    def _failed(self, e: OSError) -> None:
        self._failed_at = time.monotonic()
        self.dropped += 1
        if self.problem is not None:
            return
        name = errno.errorcode.get(e.errno or 0, str(e.errno))
        self.problem = f"cannot write its log {self.path}: {name} ({e.strerror or e})"
        self._close_fd()  # opened afresh next time (it may have been rotated half-way)
        if self.on_problem is not None:
            self.on_problem(self.problem)

    def _recovered(self) -> None:
        dropped, self.dropped, self.problem = self.dropped, 0, None
        note = f"[stackfixtures] log writing resumed: {dropped} line(s) before this were lost"
        with contextlib.suppress(OSError):
            self._append((note + "\n").encode())
        if self.on_problem is not None:
            self.on_problem(None)

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self._close_fd()
        self._closed = True
