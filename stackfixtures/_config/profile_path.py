"""Which file a profile's name means, how large it may be, and its bytes read within that."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_BYTES = 1 << 20
"""A profile is at most 1 MiB: larger (or endless, as /dev/zero) is a mistake, refused before
it is read."""


def resolve_path(profile: str | Path, root: Path) -> Path:
    """`dev` -> `<root>/profiles/dev.toml`; a path (with a slash or .toml) is taken as is."""
    text = str(profile)
    if "/" in text or text.endswith(".toml"):
        path = Path(text)
        return path if path.is_absolute() else (Path.cwd() / path)
    return root / "profiles" / f"{text}.toml"


def read_bounded(path: Path) -> tuple[bytes, os.stat_result]:
    """A profile file's bytes and what it is: at most MAX_BYTES + 1 of them (more means too
    large; a file that grows meanwhile is not read past that), none unless it is a regular
    file (O_NONBLOCK: a named pipe is not waited on). OSError when it cannot be opened."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as f:
        info = os.fstat(f.fileno())
        return (f.read(MAX_BYTES + 1) if stat.S_ISREG(info.st_mode) else b""), info
