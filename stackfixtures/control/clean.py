"""Removing what a stopped stack keeps: its state dir (data, logs, events) and what its
services keep outside it (e.g. PostgreSQL's data dir in a directory only root may enter,
linked from the state dir), and the kinds' shared cache (initdb'd clusters)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..engine.cleanup import lock
from .endpoint import find


def size_of(path: Path) -> int:
    """Bytes under `path`, not following symlinks."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def outside_homes(state_dir: Path) -> list[Path]:
    """Directories outside `state_dir` that symlinks inside it point to: data a service keeps
    elsewhere (each removed with the state dir; the directory holding it too when it names
    this state dir as its owner)."""
    found: list[Path] = []
    root = state_dir.resolve()
    for dirpath, dirs, files in os.walk(state_dir):
        for name in [*dirs, *files]:
            link = Path(dirpath) / name
            if not link.is_symlink():
                continue
            target = link.resolve()
            if root in target.parents or target == root or not target.exists():
                continue
            owner = target.parent / "owner"
            with contextlib.suppress(OSError):
                if owner.read_text().strip() == str(root):
                    target = target.parent
            found.append(target)
    return found


def remove_stack_data(state_dir: Path) -> int:
    """Remove a stopped stack's data wherever it lives; the bytes freed. Refuses a running one."""
    ep, _ = find(state_dir)
    if ep is not None:
        raise RuntimeError(f"a stack is running with state dir {state_dir} (pid {ep.pid})")
    if _launcher_holds(state_dir):  # starting, or not answering: its socket is not up yet
        raise RuntimeError(f"a launcher is using state dir {state_dir}")
    freed = 0
    for home in outside_homes(state_dir):
        freed += size_of(home)
        shutil.rmtree(home, ignore_errors=True)
    if state_dir.exists():
        freed += size_of(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
    return freed


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
