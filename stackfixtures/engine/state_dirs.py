"""A stack's state dir: made private (0700) and marked as the stack's when it is created, so
that whatever deletes (`stack clean`, `stack down --volumes`) can tell it from any other
directory, and refuses every directory that is not one.

The marker, `.stackfixtures-state` (0600, JSON), says what made the dir, for which profile and
project, when, and a random id. A state dir an older version made (no marker, only the files
a stack keeps) is adopted when a stack starts in it; any other non-empty directory is refused.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pwd
import stat
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

from ..errors import NotAStateDir

MARKER = ".stackfixtures-state"
MADE_BY = "stackfixtures"
MARKER_MAX = 64 * 1024
"""A marker is a few hundred bytes; a larger one is not read (any user can plant a huge sparse
file in a directory of their own)."""

OUR_FILES = frozenset(
    {
        "launcher.lock",
        "launch.lock",
        "processes.json",
        "control.json",
        "control.sock",
        "last-run.json",
        "events.jsonl",
        "launcher.log",
        "bench-launcher.log",
        "report.html",
    }
)
"""What a stack keeps at the top of its state dir (and their `NAME.*` temporary siblings)."""
OUR_DIRS = frozenset({"logs", "services"})


def make(path: Path, made_by: str, profile: str | None = None, root: Path | None = None) -> Path:
    """Create the state dir `path` (0700, missing parents 0700 too) with its marker, or check
    that the existing one is a state dir (adopting an older version's). NotAStateDir if it is
    not a directory, or a non-empty directory that is not a stack's. (A link is used as the
    directory it leads to; only deleting refuses links.)"""
    path = subdir(Path(os.path.realpath(path)))
    if not check(path):
        _mark(path, made_by, profile, root)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path


def check(path: Path) -> bool:
    """Whether `path` is a marked state dir (True), or one a stack may make its own: missing,
    empty, or holding only what a stack keeps (False). NotAStateDir for anything else: not a
    directory, or a directory holding other things. Creates nothing."""
    path = Path(os.path.realpath(path))
    if not os.path.lexists(path):
        return False
    why = _not_a_dir(path)
    if why:
        raise NotAStateDir(f"{path} {why}; choose a new or empty directory for the state dir")
    if is_ours(path):
        return True
    foreign = sorted(n for n in os.listdir(path) if not _ours_by_name(n))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise NotAStateDir(
            f"{path} is not a stackfixtures state dir (it holds {shown}); "
            "choose a new or empty directory for the state dir"
        )
    return False


def subdir(path: Path) -> Path:
    """A directory inside a state dir (a service's own), each missing level made 0700 (as a
    state dir's own missing parents are)."""
    missing: list[Path] = []
    here = path
    while not os.path.lexists(here) and here != here.parent:
        missing.append(here)
        here = here.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(d, 0o700)
    return path


def is_ours(path: Path) -> bool:
    """Whether `path` is a state dir: a real directory (not a link) holding a well-formed
    marker that belongs to the directory's owner."""
    return _why_not_ours(Path(path)) is None


def require_ours(path: Path, project_roots: Iterable[Path] = ()) -> Path:
    """`path` if something may delete it: a marked state dir that is not `/`, a home, one of
    `project_roots` or a parent of one (those never, marker or not). Else NotAStateDir, whose
    message ends with "nothing removed"."""
    path = Path(os.path.abspath(path))
    why = _never(path, project_roots) or _why_not_ours(path)
    if why:
        raise NotAStateDir(f"{path} {why}; nothing removed")
    return path


def _never(path: Path, project_roots: Iterable[Path]) -> str | None:
    if path.is_symlink():
        return "is a symlink (give the state dir itself)"
    real = path.resolve()
    if real == Path(real.anchor):
        return "is the filesystem root"
    if real in _homes(real):
        return "is a home directory"
    for root in project_roots:
        root = Path(root).resolve()
        if real == root:
            return "is the project root"
        if real in root.parents:
            return f"holds the project {root}"
    return None


def _homes(path: Path) -> set[Path]:
    """Our home ($HOME, and the account's), and the home of the user who owns `path`."""
    homes = {Path(os.path.expanduser("~"))}
    uids = {os.geteuid()}
    with contextlib.suppress(OSError):
        uids.add(path.stat().st_uid)
    for uid in uids:
        with contextlib.suppress(KeyError):
            homes.add(Path(pwd.getpwuid(uid).pw_dir))
    resolved = set()
    for home in homes:
        with contextlib.suppress(OSError, RuntimeError):
            resolved.add(home.resolve())
    return resolved


def _not_a_dir(path: Path) -> str | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "does not exist"
    if stat.S_ISLNK(info.st_mode):
        return "is a symlink (give the state dir itself)"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    return None


def _why_not_ours(path: Path) -> str | None:
    why = _not_a_dir(path)
    if why:
        return why
    try:
        fd = os.open(path / MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return "is not a stackfixtures state dir (no marker)"
    except OSError:  # a link (ELOOP), or one we may not read
        return "is not a stackfixtures state dir (its marker is not a file of the dir's owner)"
    try:  # what was opened is what is judged: a file swapped in after a check is not read
        marker = os.fstat(fd)
        if not stat.S_ISREG(marker.st_mode) or marker.st_uid != path.lstat().st_uid:
            return "is not a stackfixtures state dir (its marker is not a file of the dir's owner)"
        if marker.st_size > MARKER_MAX:
            return f"is not a stackfixtures state dir (its marker is {marker.st_size} bytes)"
        record = json.loads(os.read(fd, MARKER_MAX + 1))
    except (OSError, ValueError):
        return "is not a stackfixtures state dir (its marker is unreadable)"
    finally:
        os.close(fd)
    if not isinstance(record, dict) or record.get("made_by") != MADE_BY:
        return "is not a stackfixtures state dir (its marker is not stackfixtures')"
    return None


def _ours_by_name(name: str) -> bool:
    if name in OUR_DIRS or name in OUR_FILES or name.startswith(MARKER):
        return True
    return any(name.startswith(f"{ours}.") for ours in OUR_FILES)


def _mark(path: Path, made_by: str, profile: str | None, root: Path | None) -> None:
    """Write the marker whole or not at all: a temporary file linked into place, so a
    concurrent maker (or reader) never sees half of one, and one never replaces another."""
    record = {
        "made_by": MADE_BY,
        "by": made_by,
        "profile": profile,
        "root": str(Path(root).resolve()) if root else None,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "id": uuid.uuid4().hex,
    }
    fd, tmp = tempfile.mkstemp(prefix=f"{MARKER}.", dir=path)  # 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        with contextlib.suppress(FileExistsError):  # another maker got there first: keep its
            os.link(tmp, path / MARKER)
    finally:
        os.unlink(tmp)
