"""Readiness and liveness probes. Each is a small value; they compose with `all_`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Probe
from .call import AllProbe, CallProbe, all_, call
from .exec import ExecProbe, exec_
from .http import HttpProbe, http
from .log import LogProbe, log
from .tcp import TcpProbe, tcp
from .wait import wait_ready

__all__ = [
    "AllProbe",
    "CallProbe",
    "ExecProbe",
    "HttpProbe",
    "LogProbe",
    "Probe",
    "TcpProbe",
    "all_",
    "call",
    "exec_",
    "from_spec",
    "http",
    "log",
    "since",
    "tcp",
    "wait_ready",
]

SPEC_KEYS = ("tcp", "http", "exec", "log")


def since(probe: Probe, mark: int) -> Probe:
    """`probe` counting only log lines written after `mark` (a restarted service's log still
    holds its previous run's lines: its old "ready" line must not count again)."""
    if isinstance(probe, LogProbe):
        return probe.after(mark)
    if isinstance(probe, AllProbe):
        return AllProbe(tuple(since(p, mark) for p in probe.probes))
    return probe


def from_spec(spec: Mapping[str, Any]) -> Probe:
    """A probe from a profile table: `{tcp = "${port}"}`, `{http = url}`, `{exec = [..]}`,
    `{log = "regex"}`; several keys mean all of them, in that order."""
    probes: list[Any] = []
    for key in SPEC_KEYS:
        if key not in spec:
            continue
        value = spec[key]
        if key == "tcp":
            probes.append(tcp(value))
        elif key == "http":
            probes.append(http(value))
        elif key == "exec":
            probes.append(exec_(*([value] if isinstance(value, str) else value)))
        else:
            probes.append(log(value))
    if not probes:
        raise ValueError("a probe needs one of: " + ", ".join(SPEC_KEYS))
    return probes[0] if len(probes) == 1 else all_(*probes)
