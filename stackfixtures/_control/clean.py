"""Removing what a stopped stack keeps: its state dir (data, logs, events) and the homes its
services keep outside it (e.g. PostgreSQL's data dir in a directory only root may enter,
linked from the state dir), and the kinds' shared cache (initdb'd clusters).

Only a marked state dir is removed (engine.state_dirs.hold), never by following a link, and
the very directory that was checked (held open; a parent swapped for a link meanwhile leads
nowhere):
a symlink in it is removed as a link, unless the tool made it to a home that names this state
dir as its owner (engine.state_homes), which then goes whole. What could not be removed is
reported, never ignored.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._engine.cleanup import lock
from .._engine.state_dirs import Held, hold
from .._engine.state_homes import linked_home
from .endpoint import find


@dataclass
class Removed:
    """What a removal freed (bytes), and what it could not remove (path: reason)."""

    freed: int = 0
    failed: list[str] = field(default_factory=list)


def size_of(path: Path) -> int:
    """Bytes under `path`, not following symlinks."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def linked_homes(state_dir: Path) -> list[Path]:
    """The homes outside `state_dir` that links the tool made in it lead to (each owned by
    this state dir); other links are not followed."""
    found: list[Path] = []
    for dirpath, dirs, files in os.walk(state_dir):  # a link to a directory is not entered
        for name in [*dirs, *files]:
            link = Path(dirpath) / name
            home = linked_home(link, state_dir) if link.is_symlink() else None
            if home is not None and home not in found:
                found.append(home)
    return found


def remove_tree(path: Path) -> Removed:
    """Remove `path` (a directory, not a link) and everything in it, unlinking the links in
    it as links; the bytes freed and what could not be removed."""
    before = size_of(path)
    failed: list[str] = []

    def note(_func: Any, where: str, error: BaseException) -> None:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        failed.append(f"{where}: {reason}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=note)
    else:
        shutil.rmtree(path, onerror=lambda f, where, info: note(f, where, info[1]))
    left = size_of(path) if os.path.lexists(path) else 0
    return Removed(before - left, failed)


def remove_stack_data(state_dir: Path, project_roots: Iterable[Path] = ()) -> Removed:
    """Remove a stopped stack's data wherever it lives. NotAStateDir (nothing removed) for a
    directory that is not a marked state dir, or that must never be removed; RuntimeError
    for a stack that runs."""
    held = hold(state_dir, project_roots)
    try:
        ep, _ = find(held.path)
        if ep is not None:
            raise RuntimeError(f"a stack is running with state dir {held.path} (pid {ep.pid})")
        if _launcher_holds(held.here):  # starting, or not answering: its socket is not up yet
            raise RuntimeError(f"a launcher is using state dir {held.path}")
        done = Removed()
        for part in linked_homes(held.here):
            removed = remove_tree(part)
            done.freed += removed.freed
            done.failed += removed.failed
        removed = _remove_held(held)
        done.freed += removed.freed
        done.failed += removed.failed
        return done
    finally:
        held.close()


def _remove_held(held: Held) -> Removed:
    """Remove the held state dir by its entry in the held parent, if that entry is still it:
    links are removed as links, and a directory mounted in it (another filesystem, or a bind
    mount) is left as it is and named."""
    if not held.still_there():
        return Removed(0, [f"{held.path}: moved or replaced while it was being removed; left"])
    before = size_of(held.here)
    failed: list[str] = []
    mounts = _mount_points_under(Path(os.path.realpath(held.here)))
    _remove_entry(held.parent_fd, held.name, held.path, os.fstat(held.fd).st_dev, mounts, failed)
    left = size_of(held.here) if held.still_there() else 0
    return Removed(before - left, failed)


def _remove_entry(
    parent_fd: int,
    name: str,
    where: Path,
    dev: int,
    mounts: set[tuple[int, int]],
    failed: list[str],
) -> None:
    """Remove `name` in the directory open at `parent_fd` (`where` names it for people), and
    all it holds, without following a link or entering a mount point."""

    def note(e: OSError) -> None:
        failed.append(f"{where}: {e.strerror or e}")

    try:
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    except OSError as e:
        return note(e)
    if not stat.S_ISDIR(info.st_mode):
        try:
            os.unlink(name, dir_fd=parent_fd)
        except FileNotFoundError:
            pass
        except OSError as e:
            note(e)
        return
    if info.st_dev != dev or (info.st_dev, info.st_ino) in mounts:
        failed.append(f"{where}: a mount point, left as it is with what it holds (unmount it)")
        return
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd
        )
    except OSError as e:
        return note(e)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            failed.append(f"{where}: replaced while it was being removed; left")
            return
        for entry in os.listdir(fd):
            _remove_entry(fd, entry, where / entry, dev, mounts, failed)
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except OSError as e:
        if not any(f.startswith(f"{where}/") for f in failed):  # its content says why
            note(e)


def _mount_points_under(top: Path) -> set[tuple[int, int]]:
    """The identities (device, inode) of the mount points under `top` (from this process's
    /proc/self/mountinfo): a bind mount of the same filesystem keeps the device, so the
    device alone does not tell one."""
    found: set[tuple[int, int]] = set()
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
        if top in point.parents:
            with contextlib.suppress(OSError):
                info = os.stat(point, follow_symlinks=False)
                found.add((info.st_dev, info.st_ino))
    return found


def _launcher_holds(state_dir: Path) -> bool:
    """Whether a launcher holds the state dir's lock (it does for as long as it lives)."""
    return lock.held(state_dir)


def human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
