"""`stack report`: a stack's timeline as one self-contained HTML file, from a running stack
(its events through the control protocol) or after the fact (its state dir's events.jsonl)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .._control.exits import EXIT_DEFINITION, EXIT_NOT_RUNNING
from .._engine import private_files
from ..errors import AmbiguousStack, DefinitionError, NotRunning
from .common import main, profile_option, state_dir_option


@main.command()
@profile_option
@state_dir_option
@click.option(
    "-o",
    "--output",
    default=None,
    help="Where to write it (default: STATE_DIR/report.html; - for standard output).",
)
def report(profile: str | None, state_dir: str | None, output: str | None) -> None:
    """Write a timeline of the stack: each service's states, restarts and failures, the
    startup critical chain, start and stop times. Opens offline: no external resources.

    From the running stack if there is one, else from the state dir's events.jsonl (the last
    run in it; without -p, of the stack that ran last, as `stack logs`). Exit 4 when nothing
    was recorded.
    """
    from .._control.discover import last_run
    from .._control.remote import connect
    from .._engine.events import read_events
    from .._report import html, timeline

    try:
        where = last_run(profile, state_dir)
    except (AmbiguousStack, DefinitionError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    if where is None:
        click.echo("error: no stack has run here (or name one with -p or --state-dir)", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    label = where.name
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
        click.echo(f"error: no events recorded in {where / 'events.jsonl'}", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    tl = timeline.build(events, f"profile {label}", now=now)
    text = html.render([tl], f"stack report: profile {label}", source)
    if output == "-":
        click.echo(text, nl=False)
        return
    if output:
        target = Path(output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    else:  # in the state dir: private, as all it holds
        target = where / "report.html"
        private_files.write(target, text)
    click.echo(f"wrote {target} ({len(tl.lanes)} services)")
