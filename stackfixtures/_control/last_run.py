"""`last-run.json` in a state dir: how a launcher's last run ended (its exit code, each stop),
written as it exits and read by those who outlive it (`stack down`, the live view, the bench)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from .._engine import private_files
from .console import plural

NAME = "last-run.json"


def write(
    state_dir: Path,
    code: int,
    stops: list[dict[str, Any]],
    orphans: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Record the end of a run: its exit code, its stops (as codec.stops_to_json gives) and
    the orphans stopped after them (processes that had escaped their service)."""
    data = {"exit_code": code, "stops": stops, "orphans": orphans or [], "time": time.time()}
    data.update(extra)
    private_files.write(state_dir / NAME, json.dumps(data))  # 0600, never half-written
    return data


def died(state_dir: Path, pid: int, forced: list[str], killed: bool) -> dict[str, Any]:
    """Record a run whose launcher died (or was killed: `killed`) before it recorded how it
    stopped: its watchdog SIGKILLed the services it still listed (`forced`)."""
    note = "killed by its watchdog: the launcher " + ("was killed" if killed else "died")
    stops = [{"service": s, "graceful": False, "duration_s": 0.0, "note": note} for s in forced]
    return write(state_dir, 1, stops, launcher_died=pid, killed=killed)


def read(state_dir: Path) -> dict[str, Any]:
    """What the launcher recorded when it stopped, or {} (none yet, or unreadable)."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        data = json.loads((state_dir / NAME).read_text())
        int(data["exit_code"])
        if all(isinstance(s["service"], str) and "graceful" in s for s in data["stops"]):
            return dict(data)
    return {}


def forget(state_dir: Path) -> None:
    """Before a run starts: never report an older run's end as this one's."""
    (state_dir / NAME).unlink(missing_ok=True)


def summary(data: dict[str, Any]) -> str:
    """`stopped 3 services gracefully`, or `stopped 3 services; forced: web`."""
    stops = data.get("stops", [])
    forced = [s["service"] for s in stops if not s["graceful"]]
    said = f"stopped {plural(len(stops), 'service')}"
    said += f"; forced: {', '.join(forced)}" if forced else " gracefully"
    if data.get("launcher_died"):
        how = "was killed" if data.get("killed") else "died before it stopped the stack"
        said = (
            f"the launcher (pid {data['launcher_died']}) {how}; its watchdog killed what it "
            f"still ran: {', '.join(forced) or 'nothing'} (forced)"
        )
    orphans = data.get("orphans") or []
    if orphans:
        said += f"; stopped {plural(len(orphans), 'orphan')} that had left its service: "
        said += "; ".join(orphans)
    return said
