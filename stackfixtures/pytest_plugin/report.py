"""What the plugin adds to pytest's reports: each failing test's service logs, the header
(profile, services, critical chain) and the end-of-run startup critical chain."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .._control.protocol import StackControl
from .._engine.critical_chain import critical_chain, describe
from .._engine.events import Event, read_events
from . import timeline
from .attach import profile_option
from .plugin import PLUGIN, Plugin
from .routes import ROUTE
from .shared import shared_dir

MARKS = pytest.StashKey[tuple[str | None, dict[str, int]]]()


DRIVERS = ("stack", "private_stack")
"""Fixtures through which a test may start, restart or break any service by name."""

TAIL = 200
"""Lines of each service's log a failing test's report shows at most."""


def _used(plugin: Plugin, item: pytest.Item) -> list[str]:
    """The services a test used: those it named as fixtures (with their dependencies), or all
    of them when it drives the stack itself (`stack.handle("web")`, `stack.restart(...)`)."""
    fixtures = getattr(item, "fixturenames", ())
    if any(d in fixtures for d in DRIVERS):
        return list(plugin.project.graph.names)
    names = [n for n in fixtures if n in plugin.project.graph]
    return plugin.project.graph.closure(names) if names else []


def _time(e: Event) -> float:
    return e.time


def _output_of(
    plugin: Plugin, item: pytest.Item, mode: str | None, name: str
) -> StackControl | None:
    """The control that holds the output of `name` as this test used it: its own instance
    when the test replaces a service it depends on (none for the replaced one itself)."""
    route = item.stash.get(ROUTE, None)
    if route is not None and name in route.variants:
        swap = plugin.swaps.running.get((route.key, mode))
        return swap.backend.local if swap is not None else None
    if route is not None and any(r.name == name for r in route.key):
        return None
    backend = plugin.running(mode)
    return backend.output_of(name) if backend is not None else None


def _item_mode(plugin: Plugin, item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return params.get("stack_mode", plugin.mode)  # type: ignore[no-any-return]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note where each service's log stands, so a failure can show what came after."""
    plugin = item.config.stash.get(PLUGIN, None)
    if plugin is None or not _used(plugin, item):
        return
    mode = _item_mode(plugin, item)
    backend = plugin.running(mode)
    marks: dict[str, int] = {}
    for control in backend.controls() if backend is not None else []:
        with contextlib.suppress(Exception):  # later controls (the shared launcher) win
            marks.update({n: chunk["mark"] for n, chunk in control.logs(n=0).items()})
    route = item.stash.get(ROUTE, None)
    if route is not None:  # the test's own instances: from their start, unless running
        marks.update(dict.fromkeys(route.variants, 0))
        swap = plugin.swaps.running.get((route.key, mode))
        with contextlib.suppress(Exception):
            chunks = swap.backend.local.logs(list(route.variants), n=0) if swap else {}
            marks.update({n: chunk["mark"] for n, chunk in chunks.items()})
    item.stash[MARKS] = (mode, marks)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report gets a section per service it used: what it logged meanwhile."""
    report = yield
    plugin = item.config.stash.get(PLUGIN, None)
    if plugin is None or not report.failed or report.when not in ("setup", "call"):
        return report
    mode, marks = item.stash.get(MARKS, (_item_mode(plugin, item), {}))
    private = _private(item)
    if plugin.running(mode) is None and item.stash.get(ROUTE, None) is None and not private:
        return report
    time.sleep(0.1)  # output reaches the log asynchronously: let the test's last lines land
    for name in _used(plugin, item) if plugin.running(mode) or item.stash.get(ROUTE, None) else []:
        control = _output_of(plugin, item, mode, name)
        if control is None:
            continue
        try:
            lines = control.logs([name], since={name: marks.get(name, 0)})[name]["lines"]
        except Exception:  # a report must never fail because a log could not be read
            continue
        _section(report, f"stackfixtures: {name} log during this test", lines)
    for control in private:  # the test's own stack: everything it logged is this test's
        try:
            chunks = control.logs(None, n=TAIL)
        except Exception:
            continue
        for name, chunk in chunks.items():
            _section(report, f"stackfixtures: {name} log (private stack)", chunk["lines"])
    return report


def _section(report: pytest.TestReport, title: str, lines: list[str]) -> None:
    if lines:
        report.sections.append((title, "\n".join(lines[-TAIL:])))


def _private(item: pytest.Item) -> list[StackControl]:
    """The controls of the `private_stack` a test used (still running while it reports)."""
    fixture = getattr(item, "funcargs", {}).get("private_stack")
    own = getattr(fixture, "_own", None)
    return list(own.controls()) if own is not None else []


def pytest_report_header(config: pytest.Config) -> list[str]:
    plugin = config.stash.get(PLUGIN, None)
    if plugin is None:
        return []
    proj = plugin.project
    where = str(proj.profile.path) if proj.profile else "conftest.py"
    mode = f", mode {plugin.mode}" if plugin.mode else ""
    lines = [f"stackfixtures: {line}" for line in plugin.swept.lines(proj.root)]
    services = ", ".join(proj.graph.names) or "none"
    lines.append(f"stackfixtures: profile {proj.label} ({where}){mode}; services: {services}")
    if plugin.attach is not None:  # a running stack's services, not ones of this session
        lines += plugin.attach.header(profile_option(proj), plugin.mode)
    chain = _chain(plugin)
    lines.append(
        "stackfixtures: critical chain: "
        + (chain or "measured once services start (see the end of the run)")
    )
    return lines


def _chain(plugin: Plugin) -> str:
    for backend in plugin.backends():
        try:
            seen = sorted((e for c in backend.controls() for e in c.events()), key=_time)
            text = describe(critical_chain(seen, plugin.project.graph.dependencies))
        except Exception:
            continue
        if text:
            return text
    if plugin.reuse:  # a stack kept from an earlier run already has a measured chain
        shared = shared_dir(plugin.config, plugin.project, plugin.mode, True)
        events = shared / "events.jsonl"
        if events.exists():
            return describe(critical_chain(read_events(events), plugin.project.graph.dependencies))
    return ""


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN, None)
    if plugin is None:
        return
    timeline.write(plugin, config, terminalreporter)  # --stack-report
    chains = []
    for path in _event_logs(plugin, config):
        text = describe(critical_chain(read_events(path), plugin.project.graph.dependencies))
        if text:
            chains.append(f"{path.parent.name}: {text}")
    if chains:
        terminalreporter.write_sep("-", "stackfixtures startup critical chain")
        for line in chains:
            terminalreporter.write_line(line)


def _event_logs(plugin: Plugin, config: pytest.Config) -> list[Path]:
    base = Path(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    found = [p for p in base.glob("stack*/events.jsonl")]
    if plugin.reuse:
        found += list(
            (plugin.project.root / ".stack").glob(f"pytest-{plugin.project.label}*/events.jsonl")
        )
    return sorted(found)
