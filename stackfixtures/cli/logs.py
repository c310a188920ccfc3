"""`stack logs` and `stack events`: what a stack said and did, from the running stack or,
when none runs, from the files its last run left (as `docker compose logs` does). With
Compose's words: several services, `--tail N`, `-t/--timestamps`; `-f` ends on Ctrl-C
quietly (exit 0)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._control.console import Console
from .._control.exits import EXIT_OK
from .common import control_for, json_option, main, stack_options

if TYPE_CHECKING:
    from .._engine.events import Event


class Tail(click.ParamType[int]):
    """`--tail N` or `--tail all` (Compose's default)."""

    name = "N|all"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        if str(value).lower() == "all":
            return 10**9
        if str(value).isdigit():
            return int(value)
        self.fail(f"{value!r} is neither a number of lines nor 'all'", param, ctx)


@contextmanager
def quiet_interrupt() -> Iterator[None]:
    """Ctrl-C ends a `-f` as a person means it: exit 0, no "Aborted!"."""
    try:
        yield
    except KeyboardInterrupt:
        sys.exit(EXIT_OK)


def stamp(at: float | None) -> str:
    """`2026-12-06T11:05:00.123Z` (UTC, as Compose's `-t` writes it), or `-` if unknown."""
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


@main.command()
@stack_options
@click.argument("services", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C ends).")
@click.option(
    "-n",
    "--lines",
    "--tail",
    "lines",
    type=Tail(),
    default="50",
    show_default=True,
    help="How many lines first, per service (a number, or all).",
)
@click.option(
    "-t", "--timestamps", is_flag=True, help="Each line with the time it was written (UTC)."
)
@json_option
def logs(
    profile: str | None,
    state_dir: str | None,
    services: tuple[str, ...],
    follow: bool,
    lines: int,
    timestamps: bool,
    as_json: bool,
) -> None:
    """The output of SERVICES (all services without one), prefixed with each one's name.
    With no stack running: its last run's, from the files it left (as `compose logs` does)."""
    names = list(services) or None
    show = Shown(timestamps, as_json)

    def from_files() -> bool:
        return _last_run_logs(profile, state_dir, names, lines, show)

    with quiet_interrupt(), control_for(profile, state_dir, when_stopped=from_files) as control:
        data = control.logs(names, n=lines)
        show.console = Console(list(data))
        show(data)
        while follow:
            marks = {n: v["mark"] for n, v in data.items()}
            data = control.logs(names, since=marks, wait=10)
            show(data)


class Shown:
    """Prints log chunks: `name | line`, with -t its time first, with --json one object."""

    def __init__(self, timestamps: bool, as_json: bool) -> None:
        self.timestamps = timestamps
        self.as_json = as_json
        self.console = Console([])

    def __call__(self, data: dict[str, Any]) -> None:
        for name, part in data.items():
            times: list[float | None] = list(part.get("times") or [])
            times += [None] * (len(part["lines"]) - len(times))
            for line, at in zip(part["lines"], times, strict=True):
                if self.as_json:
                    said: dict[str, Any] = {"service": name, "line": line}
                    click.echo(json.dumps({**said, "time": at} if self.timestamps else said))
                else:
                    self.console.line(name, f"{stamp(at)} {line}" if self.timestamps else line)


def _last_run_logs(
    profile: str | None,
    state_dir: str | None,
    services: list[str] | None,
    lines: int,
    show: Shown,
) -> bool:
    """No stack runs: print the last `lines` of each service's log file of the stack meant
    (_control/discover.py's `last_run`) and return True; False when there is nothing to print
    (control_for then says that nothing runs). Files hold no times: -t shows `-`."""
    from collections import deque

    from .._control.discover import last_run

    where = last_run(profile, state_dir)
    if where is None:
        return False
    files = sorted(Path(where, "logs").glob("*.log"))
    files = [f for f in files if services is None or f.stem in services]
    if not files:
        return False
    click.echo(f"[stack] not running: the last run's logs, in {where / 'logs'}", err=True)
    if show.timestamps:
        click.echo("[stack] log files hold no times: each line's is shown as -", err=True)
    data = {}
    for f in files:
        with f.open(errors="replace") as text:
            data[f.stem] = {"lines": [x.rstrip("\n") for x in deque(text, maxlen=lines)]}
    show.console = Console(list(data))
    show(data)
    return True


@main.command()
@stack_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events (Ctrl-C ends).")
@json_option
def events(profile: str | None, state_dir: str | None, follow: bool, as_json: bool) -> None:
    """Every state change so far (JSON lines with --json: time, service, from, to, reason).
    With no stack running: its last run's, from its events.jsonl."""

    def from_file() -> bool:
        return _last_run_events(profile, state_dir, as_json)

    with quiet_interrupt(), control_for(profile, state_dir, when_stopped=from_file) as control:
        seen = 0
        console = Console([])
        while True:
            batch = control.events(since=seen, wait=10 if follow and seen else 0)
            for e in batch:
                _print_event(console, e, as_json)
            seen += len(batch)
            if not follow:
                return


def _last_run_events(profile: str | None, state_dir: str | None, as_json: bool) -> bool:
    """No stack runs: print the events of the last run recorded in the events.jsonl of the
    stack meant; False when there are none."""
    from .._control.discover import last_run
    from .._engine.events import read_events
    from .._report.timeline import runs

    where = last_run(profile, state_dir)
    log = where / "events.jsonl" if where is not None else None
    if log is None or not log.is_file():
        return False
    every = runs(read_events(log))
    if not every or not every[-1]:
        return False
    click.echo(f"[stack] not running: the last run's events, in {log}", err=True)
    console = Console([])
    for e in every[-1]:
        _print_event(console, e, as_json)
    return True


def _print_event(console: Console, e: Event, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(e.to_json()))
    else:
        console.event(e, stamp=True)
