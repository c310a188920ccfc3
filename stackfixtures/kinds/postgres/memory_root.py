"""Where clusters kept in memory (`memory = true`) live: this user's private directory on a
tmpfs, never at a name another local user could take first.

In order: STACKFIXTURES_PGMEMORY_ROOT when set (checked by private_dir); else a directory in
$XDG_RUNTIME_DIR when that is a per-user tmpfs (ours, 0700; not when the server runs as another
OS user, who could not enter it); else a directory made on /dev/shm under an unpredictable name
(mkdtemp) whose path is recorded in this user's private dir (user_tmp) and used again while it
is still a real directory of ours, private, on a tmpfs -- otherwise a new one is made, and the
one found is left alone (never followed, never removed).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import psutil
from filelock import FileLock

from ...errors import KindUnavailable
from ...kind_api import private_dir, private_file, private_files, user_tmp

MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")

MEMORY_ROOT_VARIABLE = "STACKFIXTURES_PGMEMORY_ROOT"

SHARED_TMPFS = Path("/dev/shm")

NAME = "stackfixtures-postgres"

RECORD = "pgmemory-root"  # in user_tmp(): the path of the directory made on SHARED_TMPFS


def memory_root(shared: bool) -> Path:
    """This user's private directory on a tmpfs for clusters kept in memory; traversable by
    others when `shared` (the server runs as another OS user), writable by us alone.
    KindUnavailable where no tmpfs is at hand."""
    mode = 0o711 if shared else 0o700
    explicit = os.environ.get(MEMORY_ROOT_VARIABLE)
    if explicit:
        _require_tmpfs(Path(explicit))
        return private_dir(Path(explicit), mode=mode)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not shared and runtime and os.path.isabs(runtime) and _ours_on_tmpfs(Path(runtime), 0o700):
        return private_dir(Path(runtime) / NAME, mode=mode)
    return _made_root(mode)


def _made_root(mode: int) -> Path:
    """The recorded directory on SHARED_TMPFS while it is still ours (made anew if not)."""
    record = user_tmp() / RECORD
    with FileLock(str(record) + ".lock", timeout=30):
        try:
            recorded = Path(private_file(record).read_text(encoding="utf-8"))
        except FileNotFoundError:
            recorded = None
        if recorded is not None and recorded.is_absolute() and _ours_on_tmpfs(recorded, None):
            if stat.S_IMODE(recorded.lstat().st_mode) != mode:
                recorded.chmod(mode)
            return recorded
        _require_tmpfs(SHARED_TMPFS)
        made = Path(tempfile.mkdtemp(prefix=f"{NAME}-", dir=SHARED_TMPFS))
        made.chmod(mode)
        private_files.write(record, str(made))
        return made


def _ours_on_tmpfs(path: Path, exact: int | None) -> bool:
    """Whether `path` itself (not a link) is a directory of ours on a tmpfs, with mode `exact`,
    or else one no one else may write or read (others may only pass through)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return False
    bits = stat.S_IMODE(info.st_mode)
    private = bits == exact if exact is not None else not bits & 0o066
    return private and filesystem_of(path) in MEMORY_FILESYSTEMS


def _require_tmpfs(root: Path) -> None:
    fstype = filesystem_of(root)
    if fstype not in MEMORY_FILESYSTEMS:
        where = f"{root} is on {fstype}" if fstype else f"{root.parent} does not exist"
        raise KindUnavailable(
            f"memory = true keeps PostgreSQL's data on a tmpfs, and {where}, not a tmpfs: "
            f"mount one at {SHARED_TMPFS}, or set {MEMORY_ROOT_VARIABLE} to a directory on a "
            "tmpfs, or drop `memory` to keep the data on disk"
        )


def filesystem_of(path: Path) -> str | None:
    """The type of the filesystem the nearest existing ancestor of `path` is on."""
    here = Path(os.path.abspath(path))
    while not here.exists():
        if here.parent == here:
            return None
        here = here.parent
    real = os.path.realpath(here)
    best, fstype = "", None
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, part.fstype
    return fstype
