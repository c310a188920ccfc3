"""One stack's report, as `stack report` and the MCP server's `render_report` make it: its
events from the running stack (through the control protocol) or, once it has stopped, from its
state dir's events.jsonl (the last run in it), drawn as one HTML file and summed up in words."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .._control.console import plural
from .._control.remote import connect
from .._engine import private_files
from .._engine.critical_chain import describe
from .._engine.events import Event, read_events
from ..errors import NotRunning
from . import html
from .timeline import Timeline, build, runs


@dataclass(frozen=True)
class Report:
    """A stack's timeline and its page, not yet written anywhere."""

    where: Path  # the state dir
    timeline: Timeline
    text: str  # the HTML page
    states: dict[str, str]  # each service's state at the end (its last event's)

    def write(self, output: str | None = None) -> Path:
        """Write it to `output` (a path), else into the state dir as report.html (private,
        as everything it holds); where it went."""
        if output:
            target = Path(output)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.text, encoding="utf-8")
            return target
        target = self.where / "report.html"
        private_files.write(target, self.text)
        return target


def report(where: Path) -> Report:
    """The report of the stack whose state dir is `where`; NotRunning when it recorded no
    events."""
    label = where.name
    events: list[Event]
    try:
        with connect(where) as control:
            events = control.events()
            label = str(control.status()["stack"].get("profile") or label)
        now: float | None = time.time()
        source = f"running stack, state dir {where}"
    except NotRunning:
        log = where / "events.jsonl"
        events = read_events(log) if log.is_file() else []
        now, source = None, f"recorded in {log}"
    if not events:
        raise NotRunning(f"no events recorded in {where / 'events.jsonl'}")
    tl = build(events, f"profile {label}", now=now)
    states = {e.service: e.target for e in runs(events)[-1]}
    return Report(where, tl, html.render([tl], f"stack report: profile {label}", source), states)


def summary(made: Report) -> str:
    """The timeline in a few lines of words: each service's state at the end, starts,
    restarts and failures (the last one's why), and the startup's critical chain."""
    tl = made.timeline
    lines = [f"{tl.title}: {plural(len(tl.lanes), 'service')} over {tl.length:.1f} s"]
    for lane in tl.lanes:
        said = [f"{lane.service}: {made.states.get(lane.service, 'pending')}"]
        said += [f"started {len(lane.starts)} times"] if len(lane.starts) > 1 else []
        said += [plural(lane.restarts, "restart")] if lane.restarts else []
        failures = [m for m in lane.marks if m.kind == "failure"]
        if failures:
            said.append(f"{plural(len(failures), 'failure')} (last: {failures[-1].text})")
        if lane.starts:
            said.append(f"first ready in {lane.starts[0]:.2f} s")
        lines.append("  " + ", ".join(said))
    if tl.chain:
        lines.append(f"critical chain: {describe(tl.chain)}")
    return "\n".join(lines)
