"""Files of a state dir that only their owner may read (0600 whatever the umask): logs, events,
records. Opened without following a link; whole files written to a temporary sibling (removed
if the write fails, e.g. on a full disk) and renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

MODE = 0o600


def open_append(path: Path) -> int:
    """A descriptor appending to `path` (made 0600 if new; made 0600 if it was not)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, MODE)
    try:
        os.fchmod(fd, MODE)  # an older file, or one the umask made otherwise
    except OSError:
        os.close(fd)
        raise
    return fd


def write(path: Path, text: str, mode: int = MODE) -> None:
    """Replace `path` with `text` all at once (readers see the old file or the new one); a link
    at `path` is replaced, never followed. `mode`: 0600 unless a caller knows it holds nothing
    private."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode != MODE:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
