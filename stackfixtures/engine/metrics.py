"""Per-service figures for status and metrics: uptime, restarts, exit code, RSS, CPU, health."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from .stack import Unit


def _tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    return []


def measure(unit: Unit, processes: list[Any]) -> dict[str, Any]:
    """A service's figures now. CPU percent is since the previous call for the same process."""
    rss = 0
    cpu = 0.0
    seen: dict[int, Any] = {}
    for proc in processes:
        for p in _tree(proc.pid):
            cached = unit.probes.get(p.pid)
            if cached is not None and cached.create_time() == p.create_time():
                p = cached
            seen[p.pid] = p
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss
                cpu += p.cpu_percent(interval=None)
    unit.probes = seen
    ready = unit.state.value in ("ready", "degraded")
    return {
        "name": unit.name,
        "state": unit.state.value,
        "pid": processes[0].pid if processes else None,
        "pids": [p.pid for p in processes],
        "uptime_s": round(time.monotonic() - unit.ready_at, 3) if ready and unit.ready_at else 0.0,
        "restarts": unit.restarts,
        "last_exit_code": unit.last_exit_code,
        "rss_mb": round(rss / 2**20, 2),
        "cpu_percent": round(cpu, 1),
        "health": unit.health,
        "last_probe_ms": unit.last_probe_ms,
        "circuit": "open" if unit.circuit_open else "closed",
    }
