"""`stack report`: a stack's timeline as one self-contained HTML file, from a running stack
(its events through the control protocol) or after the fact (its state dir's events.jsonl)."""

from __future__ import annotations

import sys

import click

from .._control.exits import EXIT_DEFINITION, EXIT_NOT_RUNNING
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
    from .._report.of_stack import report as report_of

    try:
        where = last_run(profile, state_dir)
    except (AmbiguousStack, DefinitionError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    if where is None:
        click.echo("error: no stack has run here (or name one with -p or --state-dir)", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    try:
        made = report_of(where)
    except NotRunning as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    if output == "-":
        click.echo(made.text, nl=False)
        return
    target = made.write(output)
    tl = made.timeline
    click.echo(f"wrote {target} ({len(tl.lanes)} services)")
