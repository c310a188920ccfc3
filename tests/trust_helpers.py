"""What the trust tests ask of a running stack: its state dir, launcher and services' pids,
whether its lock is held, its watchdog; and `up` of a project, asserting it came up."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import psutil

from .cli_helpers import run_stack


def state(root: Path, profile: str = "dev") -> Path:
    return root / ".stack" / profile


def launcher_pid(root: Path, profile: str = "dev") -> int:
    return int(json.loads((state(root, profile) / "control.json").read_text())["pid"])


def service_pids(root: Path, env: dict[str, str]) -> list[int]:
    out = run_stack(["status", "-p", "dev", "--json"], root, timeout=20, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return [s["pid"] for s in json.loads(out.stdout)["services"] if s["state"] == "ready"]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def lock_held(root: Path) -> bool:
    """Whether anyone holds the state dir's lock (flock, probed as a test would)."""
    try:
        fd = os.open(state(root) / "launcher.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def watchdog_of(root: Path) -> psutil.Process:
    return next(
        p
        for p in psutil.process_iter(["cmdline"])
        if "stackfixtures._engine.cleanup.watchdog" in " ".join(p.info["cmdline"] or [])
        and str(root) in " ".join(p.info["cmdline"] or [])
    )


def up(root: Path, env: dict[str, str]) -> int:
    out = run_stack(["up", "-p", "dev"], root, timeout=60, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return launcher_pid(root)
