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
from dataclasses import dataclass
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
    directory it leads to; only deleting refuses links.) NotAStateDir too, naming it and the
    error, if it cannot be made (a full disk, a read-only place)."""
    path = Path(os.path.realpath(path))
    try:
        subdir(path)
        owner = path.stat().st_uid
        if owner != os.geteuid():
            raise NotAStateDir(
                f"state dir {path} belongs to uid {owner}, not to you (uid {os.geteuid()}): "
                "its owner could change what a stack writes there; use a directory of your own"
            )
        if not check(path):
            _mark(path, made_by, profile, root)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as e:
        raise NotAStateDir(
            f"state dir {path}: cannot be made ({e.strerror or e}); free space there, or pass "
            "--state-dir DIR (or set STACK_STATE_DIR) to keep it elsewhere"
        ) from None
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


@dataclass
class Held:
    """A state dir held open while something removes it: `fd` is the directory itself, opened
    through no link, `parent_fd` the directory holding it and `name` its entry there. What is
    removed is the directory that was checked, whatever is renamed or linked meanwhile."""

    path: Path
    parent_fd: int
    name: str
    fd: int

    @property
    def here(self) -> Path:
        """A path that leads to the held directory itself (Linux's /proc/self/fd)."""
        return Path(f"/proc/self/fd/{self.fd}")

    def still_there(self) -> bool:
        """Whether `name` in the held parent is still the held directory."""
        try:
            now, held = (
                os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False),
                os.fstat(self.fd),
            )
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def close(self) -> None:
        for fd in (self.fd, self.parent_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def hold(path: Path, project_roots: Iterable[Path] = ()) -> Held:
    """`path` held open (see Held) if something may delete it: a marked state dir that is not
    `/`, a home, one of `project_roots` or a parent of one (those never, marker or not), each
    judged on the very directory held. Else NotAStateDir, whose message ends with "nothing
    removed"."""
    path = Path(os.path.abspath(path))
    if path.is_symlink():
        raise NotAStateDir(f"{path} is a symlink (give the state dir itself); nothing removed")
    real = Path(os.path.realpath(path))
    if real == Path(real.anchor):
        raise NotAStateDir(f"{path} is the filesystem root; nothing removed")
    try:
        parent_fd = _open_through_no_link(real.parent)
    except OSError as e:
        raise NotAStateDir(
            f"{path}: {real.parent} changed while it was checked ({e.strerror}); nothing removed"
        ) from None
    try:
        fd = os.open(real.name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError:
        os.close(parent_fd)
        raise NotAStateDir(
            f"{path} {_not_a_dir(path) or 'changed while it was checked'}; nothing removed"
        ) from None
    held = Held(real, parent_fd, real.name, fd)
    why = _never(fd, project_roots) or _why_not_ours_fd(fd)
    if why:
        held.close()
        raise NotAStateDir(f"{path} {why}; nothing removed")
    return held


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _open_through_no_link(real: Path) -> int:
    """A descriptor of the directory `real` (an absolute path without links), opened one
    component at a time, following no link: a component swapped for a link since fails."""
    fd = os.open("/", _DIR_FLAGS)
    for part in real.parts[1:]:
        try:
            fd_next = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        fd = fd_next
    return fd


def _never(fd: int, project_roots: Iterable[Path]) -> str | None:
    """Why the directory open at `fd` must never be removed: `/`, a home, a project root or a
    parent of one (compared by identity, not by name), or one holding a project."""
    held = os.fstat(fd)

    def same(path: Path) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == (held.st_dev, held.st_ino)

    if same(Path("/")):
        return "is the filesystem root"
    if any(same(home) for home in _homes(held.st_uid)):
        return "is a home directory"
    for root in project_roots:
        root = Path(root).resolve()
        if same(root):
            return "is the project root"
        if any(same(parent) for parent in root.parents):
            return f"holds the project {root}"
    inside = _project_inside(_through(fd))
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


def _homes(owner: int) -> set[Path]:
    """Our home ($HOME, and the account's), and the home of the user `owner`."""
    homes = {Path(os.path.expanduser("~"))}
    for uid in {os.geteuid(), owner}:
        with contextlib.suppress(KeyError):
            homes.add(Path(pwd.getpwuid(uid).pw_dir))
    return homes


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
        fd = os.open(path, _DIR_FLAGS | os.O_NOFOLLOW)
    except OSError:
        return "changed while it was checked"
    try:
        return _why_not_ours_fd(fd)
    finally:
        os.close(fd)


def _through(fd: int) -> Path:
    """A path to the very directory open at `fd` (whatever was renamed or swapped meanwhile)."""
    return Path(f"/proc/self/fd/{fd}")


def _why_not_ours_fd(dir_fd: int) -> str | None:
    """Why the directory open at `dir_fd` is not a state dir (its marker, read through what
    was opened), or None."""
    try:
        fd = os.open(
            MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except FileNotFoundError:
        return "is not a stackfixtures state dir (no marker)"
    except OSError:  # a link (ELOOP), or one we may not read
        return "is not a stackfixtures state dir (its marker is not a file of the dir's owner)"
    try:  # what was opened is what is judged: a file swapped in after a check is not read
        marker = os.fstat(fd)
        if not stat.S_ISREG(marker.st_mode) or marker.st_uid != os.fstat(dir_fd).st_uid:
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
    made_for = record.get("path")
    if not isinstance(made_for, str):
        return (
            "is not a stackfixtures state dir (its marker, from an older stackfixtures, does "
            "not say for which directory: a `stack up` there adopts it; else remove it by hand)"
        )
    if made_for != os.path.realpath(_through(dir_fd)):
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
