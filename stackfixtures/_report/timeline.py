"""A stack's run as a timeline, from its events alone: per service the spans of each state,
restarts and failures, start and stop durations, and the startup critical chain. Pure data;
html.py draws it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .._ended import how_it_ended
from .._engine.critical_chain import Link, critical_chain
from .._engine.events import Event

WAITING_FOR = re.compile(r"waiting for (.+)$")


@dataclass(frozen=True)
class Span:
    """A service in `state` from `start` to `end` (seconds after the timeline's origin)."""

    state: str
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class Mark:
    """A moment worth a marker: a restart, a failure."""

    kind: str  # "restart" | "failure"
    at: float
    text: str


@dataclass
class Lane:
    """One service's row."""

    service: str
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # starting to ready (a task: completed)
    stops: list[float] = field(default_factory=list)  # seconds from stopping to stopped
    graceful: bool | None = None  # how its last stop went
    depends_on: list[str] = field(default_factory=list)

    @property
    def restarts(self) -> int:
        return sum(m.kind == "restart" for m in self.marks)

    @property
    def failures(self) -> int:
        return sum(m.kind == "failure" for m in self.marks)


@dataclass
class Timeline:
    title: str
    origin: float  # epoch seconds of the first event
    length: float  # seconds from the first event to the end
    lanes: list[Lane]
    chain: list[Link]
    earlier_runs: int = 0  # runs before this one in the same events.jsonl


def runs(events: Iterable[Event]) -> list[list[Event]]:
    """An events.jsonl holds every run with that state dir, one after another: a run begins
    where a service leaves PENDING a second time (each stack's services do so once)."""
    out: list[list[Event]] = []
    current: list[Event] = []
    left_pending: set[str] = set()
    for e in events:
        if e.source == "pending":
            if e.service in left_pending:
                out.append(current)
                current, left_pending = [], set()
            left_pending.add(e.service)
        current.append(e)
    if current:
        out.append(current)
    return out


def dependencies_of(events: Iterable[Event]) -> dict[str, list[str]]:
    """What each service waited for: WAITING events record `depends_on` (older logs only say
    it in the reason, `waiting for a, b`)."""
    deps: dict[str, list[str]] = {}
    for e in events:
        if e.target != "waiting":
            continue
        if "depends_on" in e.extra:
            deps[e.service] = [str(d) for d in e.extra["depends_on"]]
        elif (m := WAITING_FOR.search(e.reason)) is not None:
            deps[e.service] = [d.strip() for d in m.group(1).split(",")]
        else:
            deps.setdefault(e.service, [])
    return deps


def build(events: list[Event], title: str, now: float | None = None) -> Timeline:
    """The timeline of the last run in `events`; a running stack's spans end at `now`."""
    every = runs(events)
    run = every[-1] if every else []
    if not run:
        return Timeline(title, now or 0.0, 0.0, [], [])
    origin = run[0].time
    end = max(now or 0.0, run[-1].time)
    deps = dependencies_of(run)
    lanes: dict[str, Lane] = {}
    last: dict[str, Event] = {}
    for e in run:
        lane = lanes.setdefault(e.service, Lane(e.service, depends_on=deps.get(e.service, [])))
        before = last.get(e.service)
        if before is not None:
            _close(lane, before, e, origin)
        at = e.time - origin
        if e.target == "waiting" and e.source in ("stopped", "failed", "backoff"):
            lane.marks.append(Mark("restart", at, e.reason or "restarted"))
        elif e.target == "failed":
            code = e.extra.get("exit_code")
            known = code is None or how_it_ended(code) in e.reason
            text = e.reason if known else f"{e.reason} (exit code {code})"
            lane.marks.append(Mark("failure", at, text))
        elif e.target == "stopped" and "graceful" in e.extra:
            lane.graceful = bool(e.extra["graceful"])
        last[e.service] = e
    for name, e in last.items():
        if e.target not in ("stopped", "pending"):  # still in that state at the end
            lanes[name].spans.append(Span(e.target, e.time - origin, end - origin, e.reason))
    chain = critical_chain(run, lambda s: deps.get(s, []))
    return Timeline(title, origin, end - origin, list(lanes.values()), chain, len(every) - 1)


def _close(lane: Lane, before: Event, after: Event, origin: float) -> None:
    """The span `before` opened ends with `after`; note how long a start or stop took."""
    if before.target not in ("pending", "stopped"):
        lane.spans.append(
            Span(before.target, before.time - origin, after.time - origin, before.reason)
        )
    took = after.time - before.time
    if before.target == "starting" and after.target in ("ready", "completed"):  # (a task)
        lane.starts.append(float(after.extra.get("ready_s", took)))
    elif before.target == "stopping" and after.target == "stopped":
        lane.stops.append(float(after.extra.get("duration_s", took)))
