"""Per-service figures for status and metrics: uptime, restarts, exit code, RSS, CPU, health."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import psutil

from .cleanup.reaper import descendants
from .lifecycle import UP, State
from .unit import Unit

QUIET = frozenset({State.PENDING, State.READY})
"""States whose reason says nothing a status table needs ("ready in 0.4s")."""


def _tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and its descendants."""
    with contextlib.suppress(psutil.Error):
        p = psutil.Process(pid)
        below = _descendants(pid)
        if below is None:  # (psutil reads every process of the machine for its parents)
            return [p, *p.children(recursive=True)]
        found = [p]
        for child in below:
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(child))
        return found
    return []


def _descendants(pid: int) -> list[int] | None:
    """The pids below `pid`, as Linux lists each thread's children (reaper.descendants: the
    tree's own files only, where psutil's `children()` reads every process's; `stack status`
    waits for it, per service). None where there are no such files."""
    if not _LISTS_CHILDREN:
        return None
    return descendants(pid)


_LISTS_CHILDREN = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
"""Whether this kernel lists each thread's children (Linux with CONFIG_PROC_CHILDREN)."""


class Meter:
    """Measures services. Keeps the psutil objects between calls: a CPU percentage is the use
    since the previous call for the same process."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[int, psutil.Process]] = {}

    def measure(self, unit: Unit) -> dict[str, Any]:
        """A service's figures now."""
        processes = unit.processes
        rss = 0
        cpu = 0.0
        cache = self._seen.get(unit.name, {})
        seen: dict[int, psutil.Process] = {}
        for proc in processes:
            for p in _tree(proc.pid):
                cached = cache.get(p.pid)
                with contextlib.suppress(psutil.Error):
                    if cached is not None and cached.create_time() == p.create_time():
                        p = cached
                seen[p.pid] = p
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
                    cpu += p.cpu_percent(interval=None)
        self._seen[unit.name] = seen
        ready = unit.state in UP
        reason = unit.lifecycle.reason if unit.state not in QUIET else ""
        running = unit.state in (State.READY, State.DEGRADED)
        return {
            "name": unit.name,
            "state": unit.state.value,
            "pid": processes[0].pid if processes else None,
            "pids": [p.pid for p in processes],
            "uptime_s": round(time.monotonic() - unit.ready_at, 3)
            if ready and unit.ready_at
            else 0.0,
            "restarts": unit.restarts,
            "last_exit_code": unit.last_exit_code,
            "rss_mb": round(rss / 2**20, 2),
            "cpu_percent": round(cpu, 1),
            "health": unit.health if unit.definition.liveness is not None and running else None,
            # (a probe's last answer may name a secret: masked as the log and events are)
            "reason": unit.log.secrets.mask("; ".join(filter(None, [reason, unit.log.problem]))),
            "log_error": unit.log.problem,
            "last_probe_ms": unit.last_probe_ms,
            "circuit": "open" if unit.circuit_open else "closed",
        }
