"""`pytest --stack-report FILE`: the session's stacks as one HTML timeline report, written once
every stack of the session has stopped (by the xdist controller, which also sees the shared
launcher's events and each worker's own stacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .._engine.events import read_events
from .._report import html, timeline
from .plugin import Plugin

PLACES = (
    "stack*/events.jsonl",  # this process's stacks (and, in the xdist controller, the shared one)
    "private-stack*/events.jsonl",
    "popen-gw*/stack*/events.jsonl",  # xdist workers' own stacks
    "popen-gw*/private-stack*/events.jsonl",
)


def event_logs(plugin: Plugin, config: pytest.Config) -> list[Path]:
    """Every events.jsonl a stack of this session wrote."""
    base = Path(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    found = {p for pattern in PLACES for p in base.glob(pattern)}
    if plugin.reuse:
        root = plugin.project.root / ".stack"
        found |= set(root.glob(f"pytest-{plugin.project.label}*/events.jsonl"))
    return sorted(found)


def name_of(path: Path) -> str:
    """`stack-shared` -> `shared stack (all workers)`, `popen-gw1/stack` -> `gw1: stack`."""
    d = path.parent
    label = "shared stack (all workers)" if d.name.startswith("stack-shared") else d.name
    if d.name.startswith("stack-shared") and d.name != "stack-shared":
        label += f", mode {d.name.removeprefix('stack-shared-')}"
    if d.parent.name.startswith("popen-"):
        label = f"{d.parent.name.removeprefix('popen-')}: {label}"
    return label


def write(plugin: Plugin, config: pytest.Config, terminalreporter: Any) -> None:
    """Write the report asked for with --stack-report (the controller only, at the end)."""
    target = config.getoption("stack_report", None)
    if not target or hasattr(config, "workerinput"):
        return
    timelines = []
    for path in event_logs(plugin, config):
        events = read_events(path)
        if events:
            timelines.append(timeline.build(events, name_of(path)))
    label = plugin.project.label
    note = f"{len(timelines)} stack(s)" if timelines else "no service was started"
    text = html.render(timelines, f"pytest session: profile {label}", note)
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    terminalreporter.write_line(f"stackfixtures: timeline report written to {out}")
