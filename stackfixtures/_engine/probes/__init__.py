"""Readiness and liveness probes. Each is a small value; they compose with `all_`. The ones a
profile can name are in `registry` (each module declares its own `PROBE`)."""

from __future__ import annotations

from .base import Probe
from .call import AllProbe, CallProbe, all_, call
from .exec import ExecProbe, exec_
from .grpc import GrpcProbe, grpc
from .http import HttpProbe, http
from .log import LogProbe, log
from .registry import ProbeType, from_spec
from .tcp import TcpProbe, tcp
from .wait import wait_ready

__all__ = [
    "AllProbe",
    "CallProbe",
    "ExecProbe",
    "GrpcProbe",
    "HttpProbe",
    "LogProbe",
    "Probe",
    "ProbeType",
    "TcpProbe",
    "all_",
    "call",
    "exec_",
    "from_spec",
    "grpc",
    "http",
    "log",
    "since",
    "tcp",
    "wait_ready",
]


def since(probe: Probe, mark: int) -> Probe:
    """`probe` counting only log lines written after `mark` (a restarted service's log still
    holds its previous run's lines: its old "ready" line must not count again)."""
    if isinstance(probe, LogProbe):
        return probe.after(mark)
    if isinstance(probe, AllProbe):
        return AllProbe(tuple(since(p, mark) for p in probe.probes))
    return probe
