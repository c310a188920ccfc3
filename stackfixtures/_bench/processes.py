"""A stack's processes as a benchmark sees them from outside: its launcher, the launcher's
watchdog, its services; what is left of them after a run; and a neighbour's identity.

Everything is found the way the suite's leak check finds it: the launcher by its parent (the
`stack up` that started it), the stack's id and process groups from its ledger
(`processes-ID.json`), services by the marker in their environment (_engine/cleanup/reaper.py).
Every process is named by pid *and* start time, so a reused pid is never taken for ours.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from .._engine.cleanup import reaper, watchdog

WATCHDOG = "stackfixtures._engine.cleanup.watchdog"


def alive(p: psutil.Process) -> bool:
    """Running (a zombie has exited: its parent just has not collected it yet)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(p: psutil.Process) -> dict[str, Any]:
    with contextlib.suppress(psutil.Error):
        marks = reaper.marks(p.pid)
        return {
            "pid": p.pid,
            "service": marks[1] if marks else "",
            "command": " ".join(p.cmdline())[:160],
        }
    return {"pid": p.pid, "service": "", "command": ""}


def _ledger(state_dir: Path) -> dict[str, Any]:
    """The newest launch's ledger in `state_dir` (each launch writes its own, by stack id)."""
    with contextlib.suppress(OSError, ValueError):
        newest = max(state_dir.glob("processes-*.json"), key=lambda p: p.stat().st_mtime)
        data = json.loads(newest.read_text())
        if isinstance(data, dict):
            return data
    return {}


class LauncherProcesses:
    """Everything one launcher of a state dir started, collected while it runs (`sample`), so
    that what outlives it can be found (`left`) and stopped (`kill`) afterwards."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.launcher: psutil.Process | None = None
        self.stack_id = ""
        self.seen: dict[int, psutil.Process] = {}  # pid -> process (with its start time)
        self.groups: dict[int, dict[str, Any]] = {}  # pgid -> the ledger entry that led it

    def find_launcher(self, client_pid: int, timeout: float) -> psutil.Process | None:
        """The launcher `stack up` (pid `client_pid`) started, as soon as it exists."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(client_pid).children():
                    if "stackfixtures._launcher" in " ".join(child.cmdline()):
                        self.launcher = child
                        self.seen[child.pid] = child
                        return child
            time.sleep(0.01)
        return None

    def sample(self) -> None:
        """Note the launcher's children, its ledger's processes and groups, and every process
        carrying its stack's marker, as they are now."""
        launcher = self.launcher
        if launcher is None:
            return
        data = _ledger(self.state_dir)
        mine = data.get("launcher", {}).get("pid") == launcher.pid
        if mine and not self.stack_id:
            self.stack_id = str(data.get("stack_id", ""))
        found: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            found += launcher.children(recursive=True)
        if mine:
            for entry in data.get("processes", []):
                self.groups.setdefault(int(entry["pgid"]), entry)
                with contextlib.suppress(psutil.Error, ValueError, TypeError):
                    p = psutil.Process(int(entry["pid"]))
                    if abs(p.create_time() - float(entry["create_time"])) < 0.01:
                        found.append(p)
        if self.stack_id:
            found += reaper.marked(self.stack_id)
        for p in found:
            self.seen.setdefault(p.pid, p)

    def watchdog(self) -> psutil.Process | None:
        return next((p for p in self.children() if WATCHDOG in _cmdline(p)), None)

    def services(self) -> list[psutil.Process]:
        """The launcher's service processes (its children but the watchdog), now."""
        return [p for p in self.children() if WATCHDOG not in _cmdline(p)]

    def children(self) -> list[psutil.Process]:
        if self.launcher is None:
            return []
        with contextlib.suppress(psutil.Error):
            return [p for p in self.launcher.children() if alive(p)]
        return []

    def pgids(self) -> list[int]:
        """The recorded groups that are still this stack's: not one whose number a new leader
        has taken since (the watchdog's rule)."""
        return [pgid for pgid, entry in self.groups.items() if watchdog.same_leader(entry)]

    def left(self) -> list[psutil.Process]:
        """What of this stack is still running: any process seen (same pid and start time),
        any process carrying its marker, any member of a group its ledger recorded."""
        found = {p.pid: p for p in self.seen.values() if alive(p)}
        if self.stack_id:
            found.update({p.pid: p for p in reaper.marked(self.stack_id)})
        for pgid in self.pgids():
            found.update({p.pid: p for p in reaper.group_members(pgid)})
        return list(found.values())

    def settle(self, timeout: float) -> list[psutil.Process]:
        """What is still running `timeout` seconds from now (or as soon as nothing is)."""
        deadline = time.monotonic() + timeout
        left = self.left()
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = self.left()
        return left

    def kill(self) -> int:
        """Stop what is left, by pid (resumed first, should one be stopped: SIGTERM waits for
        a SIGCONT) and by recorded group; how many there were."""
        left = self.left()
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGCONT)
        reaper.kill_all(left, timeout=1.0)
        for pgid in self.pgids():
            if reaper.group_members(pgid):
                reaper.kill_group(pgid)
        return len(left)


def _cmdline(p: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(p.cmdline())
    return ""


@dataclass(frozen=True)
class Identity:
    """A process by pid and start time: the same process, not just the same number."""

    pid: int
    create_time: float
    what: str

    def same(self) -> bool:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(self.pid)
            return abs(p.create_time() - self.create_time) < 0.01 and p.status() not in (
                psutil.STATUS_ZOMBIE,
                psutil.STATUS_STOPPED,
            )
        return False


def identities(procs: LauncherProcesses) -> list[Identity]:
    """The launcher of a running stack and its direct children (its watchdog and each
    service's main process): what must stay the very same processes while others' stacks are
    broken. (Not their children: PostgreSQL's backends come and go on their own.)"""
    found = [procs.launcher] if procs.launcher is not None else []
    out = []
    for p in found + procs.children():
        with contextlib.suppress(psutil.Error):
            out.append(Identity(p.pid, p.create_time(), describe(p)["service"] or _cmdline(p)))
    return out
