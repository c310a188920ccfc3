"""How processes and services stopped: plain records, shared by the engine and by those who
read them over the control channel (so a client need not import the engine to read one)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StopRecord:
    """How one process stopped: graceful (exited within its grace, no SIGKILL) or forced."""

    service: str
    pid: int
    graceful: bool
    returncode: int | None
    duration_s: float
    signal: str
    stragglers: int = 0
    note: str = ""


@dataclass
class ServiceStop:
    """How one service stopped: graceful when every process it ran stopped gracefully."""

    service: str
    graceful: bool
    duration_s: float
    processes: list[StopRecord] = field(default_factory=list)
    error: str = ""
    swept: int = 0  # processes that had left its process group and were found by their marker

    @property
    def exit_codes(self) -> list[int | None]:
        return [p.returncode for p in self.processes]
