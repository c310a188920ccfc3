"""Whether the places a stack will write can be written, checked before anything starts: its
state dir (a directory, or one that can be made where it is asked for), and this user's private
dir in /tmp (sockets, the registry, port leases). A read-only checkout, `--state-dir /dev/null`
or a planted private dir is refused here, as a mistake of the command, not met as a traceback
half-way through a start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .._config.read import file_kind
from .._engine.private_dirs import user_tmp
from ..errors import StateDirUnusable, UnsafePath

ELSEWHERE = (
    "pass --state-dir DIR (or set STACK_STATE_DIR, or `state_dir` under [stack] in the "
    "profile) to keep it in a directory you can write"
)


def check(state_dir: Path) -> None:
    """Raise StateDirUnusable, naming the place and what to do, when `state_dir` (or the private
    dir) cannot be written."""
    problem = _problem(state_dir)
    if problem is not None:
        raise StateDirUnusable(f"state dir {state_dir}: {problem}; {ELSEWHERE}")
    try:
        user_tmp()
    except UnsafePath as e:
        raise StateDirUnusable(str(e)) from None


def _problem(path: Path) -> str | None:
    """Why `path` cannot be this stack's state dir, or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return _cannot_create(path)
    except NotADirectoryError:
        return _cannot_create(path)
    except OSError as e:
        return f"cannot be used ({e.strerror or e})"
    if not stat.S_ISDIR(info.st_mode):
        return f"not a directory (it is {file_kind(info.st_mode)})"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"not writable: {_why_not(path)}"
    return None


def _cannot_create(path: Path) -> str | None:
    """Why `path` (missing) cannot be made: its nearest existing ancestor is no directory, or
    cannot be written."""
    for parent in path.parents:
        try:
            info = parent.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            return f"cannot be created: {parent}: {e.strerror or e}"
        if not stat.S_ISDIR(info.st_mode):
            return (
                f"cannot be created: {parent} is not a directory (it is {file_kind(info.st_mode)})"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot be created: {_why_not(parent)}"
        return None
    return None


def _why_not(path: Path) -> str:
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return f"{path} is read-only (on a read-only file system)"
    return f"{path} is not writable by you (uid {os.geteuid()})"
