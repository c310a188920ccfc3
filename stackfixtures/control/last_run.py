"""`last-run.json` in a state dir: how a launcher's last run ended (its exit code, each stop),
written as it exits and read by those who outlive it (`stack down`, the live view, the bench)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ..engine import private_files
from .console import plural

NAME = "last-run.json"


def write(state_dir: Path, code: int, stops: list[dict[str, Any]]) -> None:
    """Record the end of a run: its exit code and its stops (as codec.stops_to_json gives)."""
    data = {"exit_code": code, "stops": stops, "time": time.time()}
    private_files.write(state_dir / NAME, json.dumps(data))  # 0600, never half-written


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
    return said + (f"; forced: {', '.join(forced)}" if forced else " gracefully")
