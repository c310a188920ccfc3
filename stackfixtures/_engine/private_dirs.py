"""Directories and files at fixed, guessable paths (in shared /tmp, /var/tmp, or where a
variable points), checked before use.

Another local user could create such a path first (or a symlink in its place) to plant
ledgers, sockets or data, or to make root write through it. A directory we did not create
ourselves is refused, not trusted; inside one of ours, a file that is not a plain file of ours
is refused too (files are replaced whole by `private_files.write`, through a fresh `mkstemp`
name, never through a name that could already exist).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..errors import UnsafePath


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (mode `mode`) or check that the existing one is ours: a real directory,
    owned by us, writable by no one else."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode, parents=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"{path} is not a plain directory; remove it and try again")
    if info.st_uid != os.geteuid():
        raise UnsafePath(
            f"{path} belongs to uid {info.st_uid}, not to us "
            f"({os.geteuid()}); remove it or set the variable that moves it"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePath(
            f"{path} is writable by others (mode {oct(info.st_mode & 0o777)}); "
            "use a directory only you can write"
        )
    if stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)
    return path


def private_file(path: Path) -> Path:
    """`path` (in a private dir) when it is absent or a plain file of ours; anything else found
    there (a symlink, a directory, a fifo, another user's file) is refused, never followed."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePath(
            f"{path} is a symbolic link, not a file stackfixtures made; remove it "
            f"(rm {path}) and try again"
        )
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(f"{path} is not a plain file; remove it and try again")
    if info.st_uid != os.geteuid():
        raise UnsafePath(f"{path} belongs to uid {info.st_uid}, not to us; remove it")
    return path


def user_tmp() -> Path:
    """This user's private directory in /tmp (`stackfixtures-<uid>`): short paths for sockets,
    the registry of running stacks, the port leases."""
    return private_dir(Path(tempfile.gettempdir()) / f"stackfixtures-{os.getuid()}")


def short_path(
    state_dir: Path, prefix: str = "", suffix: str = "", digits: int = 12, fits: int = 0
) -> Path:
    """A short path in user_tmp() standing for `state_dir`, for what must fit the 107 bytes of
    a Unix socket's path when the state dir's own path is too long. When even that is longer
    than `fits` characters (a long $TMPDIR), the same name in this user's private dir in /tmp."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:digits]
    path = user_tmp() / f"{prefix}{digest}{suffix}"
    if fits and len(str(path)) > fits:
        path = private_dir(Path("/tmp") / f"stackfixtures-{os.getuid()}") / path.name
    return path
