"""What `stack bench chaos` records of a run and prints: a line per run, the JSON summary,
its Markdown table."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clients import Answer

ANSWERS = ("status", "down")
"""The client commands whose answers are held to the bound (up and restart wait for
services, which take what they take)."""


@dataclass
class ChaosRun:
    run: int
    fault: dict[str, Any]
    kind: str
    injected: bool = False
    missed: str = ""  # why a fault did not land (its target was gone already)
    target_pid: int = 0
    target_service: str = ""
    acknowledged: int = 0
    lost: int = 0
    leftovers: list[dict[str, Any]] = field(default_factory=list)
    neighbour_harmed: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    untrue: list[str] = field(default_factory=list)  # answers that the facts contradict
    forced_down: bool = False  # `down` refused to wait: `down --force` stopped the stack
    last_run: str = ""  # how last-run.json says the launcher's run ended
    error: str = ""

    @property
    def success(self) -> bool:
        return not (
            self.leftovers
            or self.neighbour_harmed
            or self.lost
            or self.late
            or self.untrue
            or self.error
        )


def line(r: ChaosRun, runs: int) -> str:
    said = [
        f"{r.acknowledged} acknowledged, {r.lost} lost",
        f"{len(r.leftovers)} left",
        f"neighbour {'harmed: ' + '; '.join(r.neighbour_harmed) if r.neighbour_harmed else 'ok'}",
    ]
    if r.late:
        said.append("late: " + ", ".join(r.late))
    if r.untrue:
        said.append("untrue: " + "; ".join(r.untrue))
    if r.forced_down:
        said.append("stopped by down --force")
    if r.error:
        said.append(r.error)
    hit = f" ({r.target_service} pid {r.target_pid})" if r.injected else f" (missed: {r.missed})"
    return f"run {r.run}/{runs}: {'ok' if r.success else 'FAILED'}: {r.kind}{hit}: " + ", ".join(
        said
    )


def summary(
    results: list[ChaosRun], seed: int, bound: float, answers: list[Answer]
) -> dict[str, Any]:
    held = [a for a in answers if a.command.split()[0] in ANSWERS]
    slowest = max(held, key=lambda a: a.seconds, default=None)
    failed = [r for r in results if not r.success]
    return {
        "seed": seed,
        "runs": len(results),
        "bound_s": bound,
        "passed": not failed and bool(results),
        "faults_injected": sum(r.injected for r in results),
        "faults_by_kind": dict(Counter(r.kind for r in results if r.injected)),
        "faults_missed": sum(not r.injected for r in results),
        "missed_by_kind": dict(Counter(r.kind for r in results if not r.injected)),
        "failed_kinds": dict(Counter(r.kind for r in failed)),
        "leftovers": sum(len(r.leftovers) for r in results),
        "neighbours_harmed": sum(bool(r.neighbour_harmed) for r in results),
        "writes_acknowledged": sum(r.acknowledged for r in results),
        "writes_lost": sum(r.lost for r in results),
        "late_answers": sum(len(r.late) for r in results),
        "untrue_answers": sum(len(r.untrue) for r in results),
        "forced_downs": sum(r.forced_down for r in results),
        "slowest_answer_s": slowest.seconds if slowest else 0.0,
        "slowest_answer": slowest.command if slowest else "",
        "errors": sum(bool(r.error) for r in results),
        "per_run": [{**asdict(r), "success": r.success} for r in results],
    }


def markdown(s: dict[str, Any]) -> str:
    return (
        "### stack bench chaos\n\n"
        "| runs | seed | faults (missed) | leftovers | neighbours harmed | writes lost "
        "| late answers | untrue answers | slowest answer | passed |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {s['runs']} | {s['seed']} | {s['faults_injected']} ({s['faults_missed']}) "
        f"| {s['leftovers']} | {s['neighbours_harmed']} "
        f"| {s['writes_lost']} of {s['writes_acknowledged']} | {s['late_answers']} "
        f"| {s['untrue_answers']} | {s['slowest_answer_s']:.2f} s ({s['slowest_answer']}) "
        f"| {'yes' if s['passed'] else 'no'} |\n"
    )
