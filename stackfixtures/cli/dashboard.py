"""`stack dashboard`: a web page for a running stack (see _dashboard/), served by this command
over the stack's control socket; and the `--dashboard` of `stack run` and `stack up`."""

from __future__ import annotations

import sys
from typing import Any

import click

from .._control.exits import EXIT_DEFINITION
from .common import control_for, main, profile_option, state_dir_option


def check_installed() -> None:
    """Exit 2, saying which extra to install, when the dashboard cannot be served here."""
    from .._dashboard import missing

    why = missing()
    if why is not None:
        click.echo(f"error: {why}", err=True)
        sys.exit(EXIT_DEFINITION)


def _installed(ctx: click.Context, param: click.Parameter, wanted: bool) -> bool:
    if wanted:
        check_installed()
    return wanted


dashboard_option = click.option(
    "--dashboard",
    is_flag=True,
    callback=_installed,
    help="Serve the web dashboard on loopback (a free port); its URL, with a token, is printed.",
)


def tell(status: dict[str, Any], asked: bool = False) -> None:
    """The dashboard's URL from a stack's status (it holds the token: said to this terminal),
    or, `asked` for one (`up --dashboard` of a stack running already without), why none."""
    url = status["stack"].get("dashboard")
    if url:
        click.echo(f"dashboard: {url}")
    elif asked:
        click.echo("note: the stack runs already, without a dashboard: `stack dashboard`", err=True)


@main.command()
@profile_option
@state_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on. Another than loopback only if others must reach it: the token "
    "is still required.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to serve on (0: a free one).",
)
def dashboard(profile: str | None, state_dir: str | None, host: str, port: int) -> None:
    """Serve a web page of the running stack: each service's state, reason, restarts, health,
    endpoint, RSS and CPU, live; its logs (follow, search); the timeline; restart, stop,
    start and kill buttons.

    It prints its URL, which holds a random token: without it the page answers 403. Ctrl-C
    stops the dashboard, not the stack; it stops too when the stack does.
    """
    check_installed()
    from .._dashboard.serve import serve
    from .._dashboard.server import Dashboard

    with control_for(profile, state_dir) as control:
        try:
            board = Dashboard(control, host, port)
        except OSError as e:  # (its address, not the stack's: a port in use)
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_DEFINITION)
        said = serve(board, host, click.echo)
    click.echo(said, err=True)
