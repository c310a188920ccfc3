"""Removing what a stopped stack keeps: its state dir (data, logs, events) and the homes its
services keep outside it (e.g. PostgreSQL's data dir in a directory only root may enter,
linked from the state dir), and the kinds' shared cache (initdb'd clusters).

Only a marked state dir is removed (engine.state_dir.require_ours), never by following a link:
a symlink in it is removed as a link, unless the tool made it to a home that names this state
dir as its owner (engine.state_homes), which then goes whole. What could not be removed is
reported, never ignored.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.cleanup import lock
from ..engine.state_dirs import require_ours
from ..engine.state_homes import linked_home
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
    state_dir = require_ours(state_dir, project_roots)
    ep, _ = find(state_dir)
    if ep is not None:
        raise RuntimeError(f"a stack is running with state dir {state_dir} (pid {ep.pid})")
    if _launcher_holds(state_dir):  # starting, or not answering: its socket is not up yet
        raise RuntimeError(f"a launcher is using state dir {state_dir}")
    done = Removed()
    for part in [*linked_homes(state_dir), state_dir]:
        removed = remove_tree(part)
        done.freed += removed.freed
        done.failed += removed.failed
    return done


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
