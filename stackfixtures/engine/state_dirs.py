"""A stack's state dir: made private (0700) and marked as the stack's when it is created, so
that whatever deletes (`stack clean`, `stack down --volumes`) can tell it from any other
directory, and refuses every directory that is not one.

The marker, `.stackfixtures-state` (0600, JSON), says what made the dir, for which profile and
project, when, a random id, and the real path of the dir it was made for: a marker copied or
moved elsewhere does not make that other dir a state dir. Nothing deletes a dir holding a
project (a `pyproject.toml` or `profiles` dir within two levels), marker or not. A state dir
an older version made (no marker, or one without its path; only the files a stack keeps) is
adopted when a stack starts in it; any other non-empty directory is refused.
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
    inside = _project_inside(real)
    if inside is not None:
        return f"holds a project ({inside}): remove it by hand if that is what you want"
    return None


PROJECT_SIGNS = ("pyproject.toml", "profiles")
OWN_PROFILES = Path("services", "profiles")  # (the dir of a service named "profiles")


def _project_inside(top: Path, depth: int = 2) -> Path | None:
    """A sign of a project (`pyproject.toml`, a `profiles` dir) within `depth` levels under
    `top`, links not followed; a stack never makes one (a service's own dir
    `services/profiles` aside)."""
    level = [top]
    for _ in range(depth):
        deeper = []
        for here in level:
            try:
                names = sorted(os.listdir(here))
            except OSError:
                continue
            for name in names:
                child = here / name
                if name in PROJECT_SIGNS and child.relative_to(top) != OWN_PROFILES:
                    return child
                if child.is_dir() and not child.is_symlink():
                    deeper.append(child)
        level = deeper
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
        marker = (path / MARKER).lstat()
    except OSError:
        return "is not a stackfixtures state dir (no marker)"
    if not stat.S_ISREG(marker.st_mode) or marker.st_uid != path.lstat().st_uid:
        return "is not a stackfixtures state dir (its marker is not a file of the dir's owner)"
    try:
        record = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return "is not a stackfixtures state dir (its marker is unreadable)"
    if not isinstance(record, dict) or record.get("made_by") != MADE_BY:
        return "is not a stackfixtures state dir (its marker is not stackfixtures')"
    made_for = record.get("path")
    if not isinstance(made_for, str):
        return (
            "is not a stackfixtures state dir (its marker, from an older stackfixtures, does "
            "not say for which directory: a `stack up` there adopts it; else remove it by hand)"
        )
    if made_for != os.path.realpath(path):
        return (
            f"is not a stackfixtures state dir: its marker was made for {made_for} (copied or "
            f"moved here); if {made_for} is the state dir to remove, run "
            f"`stack clean --state-dir {made_for}`, else remove it by hand"
        )
    return None


def _ours_by_name(name: str) -> bool:
    if name in OUR_DIRS or name in OUR_FILES or name.startswith(MARKER):
        return True
    if name.startswith("processes-") and name.endswith(".json"):  # a launch's own ledger
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
        "path": os.path.realpath(path),  # a marker copied or moved elsewhere is not ours
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "id": uuid.uuid4().hex,
    }
    fd, tmp = tempfile.mkstemp(prefix=f"{MARKER}.", dir=path)  # 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        try:
            os.link(tmp, path / MARKER)
        except FileExistsError:  # another maker got there first: keep its, if it is ours
            if _why_not_ours(path) is not None:  # a marker from elsewhere (or an older one)
                os.replace(tmp, path / MARKER)  # (replaces a link as a link)
    finally:
        with contextlib.suppress(FileNotFoundError):  # (gone when it replaced another)
            os.unlink(tmp)
