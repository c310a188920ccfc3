"""What a stack started, written down so that nothing survives it unnoticed.

Each stack keeps a ledger (`processes.json` in its state dir: pid, start time and process group
of every process it started) and registers it in a per-user directory. Whoever starts next —
`stack run`, `stack down`, a pytest session — sweeps the ledgers of stacks whose launcher is
gone: it kills recorded processes whose start time still matches (a reused pid is never
touched) and anything carrying the dead stack's environment marker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from .. import private_files, state_dirs
from ..private_dirs import private_dir, user_tmp
from . import reaper


def registry_dir() -> Path:
    base = os.environ.get("STACKFIXTURES_REGISTRY")
    if base:
        return private_dir(Path(base))
    return private_dir(user_tmp() / "stacks")


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _atomic_write(path: Path, data: Any) -> None:
    private_files.write(path, json.dumps(data))


class Ledger:
    """The live record of one stack's processes."""

    def __init__(self, state_dir: Path, stack_id: str) -> None:
        self.path = state_dir / "processes.json"
        self.stack_id = stack_id
        self._lock = threading.Lock()
        self._entries: dict[int, dict[str, Any]] = {}
        me = psutil.Process()
        self._launcher = {"pid": me.pid, "create_time": me.create_time()}
        state_dirs.make(state_dir, "Ledger")
        self._flush()
        _atomic_write(
            registry_dir() / f"{stack_id}.json",
            {"ledger": str(self.path), "stack_id": stack_id, **self._launcher},
        )

    def add(self, service: str, pid: int, pgid: int) -> None:
        with self._lock:
            self._entries[pid] = {
                "service": service,
                "pid": pid,
                "pgid": pgid,
                "create_time": _start_time(pid),
            }
            self._flush()

    def remove(self, pid: int) -> None:
        with self._lock:
            if self._entries.pop(pid, None) is not None:
                self._flush()

    def _flush(self) -> None:
        data = {
            "stack_id": self.stack_id,
            "launcher": self._launcher,
            "processes": list(self._entries.values()),
        }
        try:
            _atomic_write(self.path, data)
        except OSError as e:  # a full disk: kept in memory, written again with the next change
            logging.getLogger("stackfixtures.ledger").warning("cannot write %s: %s", self.path, e)

    def close(self) -> None:
        """The stack stopped cleanly: nothing of it is left to sweep."""
        with contextlib.suppress(FileNotFoundError):
            (registry_dir() / f"{self.stack_id}.json").unlink()
        with self._lock:
            self._entries.clear()
            self._flush()


@dataclass(frozen=True)
class Leftover:
    stack_id: str
    service: str
    pid: int
    command: str


def _alive(launcher: dict[str, Any]) -> bool:
    started = _start_time(int(launcher["pid"]))
    return started is not None and abs(started - float(launcher["create_time"])) < 0.01


def collect(ledger_path: Path) -> list[tuple[Leftover, psutil.Process]]:
    """The live leftovers of the stack recorded in `ledger_path` (empty while it runs)."""
    try:
        data = json.loads(ledger_path.read_text())
    except (OSError, ValueError):
        return []
    if _alive(data["launcher"]):
        return []
    found: dict[int, tuple[Leftover, psutil.Process]] = {}
    for entry in data.get("processes", []):
        pid = int(entry["pid"])
        started = _start_time(pid)
        if started is None or entry.get("create_time") is None:
            continue
        if abs(started - float(entry["create_time"])) >= 0.01:
            continue  # the pid now belongs to someone else: never touch it
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            found[pid] = (
                Leftover(data["stack_id"], entry["service"], pid, " ".join(p.cmdline())[:120]),
                p,
            )
    for p in reaper.marked(data["stack_id"]):
        if p.pid not in found:
            with contextlib.suppress(psutil.Error):
                service = p.environ().get("STACKFIXTURES_SERVICE", "?")
                found[p.pid] = (
                    Leftover(data["stack_id"], service, p.pid, " ".join(p.cmdline())[:120]),
                    p,
                )
    return list(found.values())


def owner(pid: int) -> tuple[str, str, Path] | None:
    """(stack id, service, state dir) of the running stack that started `pid` (or its process
    group), found in the ledgers; None when no live stack of this user did."""
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return None
    for entry in sorted(registry_dir().glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = json.loads(entry.read_text())
            if not _alive(info):
                continue
            ledger_path = Path(info["ledger"])
            for p in json.loads(ledger_path.read_text())["processes"]:
                if p["pid"] == pid or p["pgid"] == pgid:
                    return str(info["stack_id"]), str(p["service"]), ledger_path.parent
    return None


def _still_there(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def sweep() -> list[Leftover]:
    """Stop every leftover of every crashed stack of this user; returns what was stopped."""
    stopped: list[Leftover] = []
    for entry in sorted(registry_dir().glob("*.json")):
        try:
            info = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue
        if _alive(info):
            continue
        leftovers = collect(Path(info["ledger"]))
        if leftovers:
            procs = {p.pid: p for _, p in leftovers}
            for p in list(procs.values()):  # their children go with them
                with contextlib.suppress(psutil.Error):
                    procs.update({c.pid: c for c in p.children(recursive=True)})
            reaper.kill_all(list(procs.values()))
            stopped += [leftover for leftover, _ in leftovers]
            if any(_still_there(p) for p in procs.values()):
                continue  # not all gone (permissions?): try again next time
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
    return stopped
