"""Directories at fixed, guessable paths in shared /tmp or /var/tmp, checked before use.

Another local user could create such a path first (or a symlink in its place) to plant
ledgers, sockets or data. A directory we did not create ourselves is refused, not trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..errors import StackError


class UnsafeDirectory(StackError):
    """A fixed-path directory exists but is not ours alone (owner, symlink or permissions)."""


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (mode `mode`) or check that the existing one is ours: a real directory,
    owned by us, writable by no one else."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode, parents=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a plain directory; remove it and try again")
    if info.st_uid != os.geteuid():
        raise UnsafeDirectory(
            f"{path} belongs to uid {info.st_uid}, not to us "
            f"({os.geteuid()}); remove it or set the variable that moves it"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(f"{path} is writable by others (mode {oct(info.st_mode & 0o777)})")
    if stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)
    return path


def user_tmp() -> Path:
    """This user's private directory in /tmp (`stackfixtures-<uid>`): short paths for sockets,
    the registry of running stacks."""
    return private_dir(Path(tempfile.gettempdir()) / f"stackfixtures-{os.getuid()}")


def short_path(state_dir: Path, prefix: str = "", suffix: str = "", digits: int = 12) -> Path:
    """A short path in user_tmp() standing for `state_dir`, for what must fit the 107 bytes of
    a Unix socket's path when the state dir's own path is too long."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:digits]
    return user_tmp() / f"{prefix}{digest}{suffix}"
