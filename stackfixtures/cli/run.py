"""`stack run` (the launcher in the foreground, see _launcher/) and `stack validate`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .._control.console import plural
from . import live
from .common import chosen, json_option, load_or_exit, main, profile_option, state_dir_option
from .dashboard import dashboard_option

no_tui_option = click.option(
    "--no-tui",
    is_flag=True,
    envvar="STACK_NO_TUI",
    help="Plain prefixed lines even at a terminal (as without one) [env: STACK_NO_TUI].",
)

mode_option = click.option(
    "--mode",
    type=click.Choice(["single", "multi"]),
    default=None,
    help="Override the profile's mode: single (one process for all components) or multi "
    "(one process each).",
)


def _replacements(ctx: click.Context, param: click.Parameter, pairs: tuple[str, ...]) -> Any:
    if not pairs:  # (none given: the project's package is not imported for nothing)
        return {}
    from .._project.replace import parse

    try:
        return parse(pairs)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def check_replacements(proj: Any, replace: dict[str, str], wanted: list[str]) -> None:
    """Apply --replace to `proj` before a detached launcher starts (it applies them again):
    what is wrong, or changes nothing, is said here rather than in its log."""
    from .._control.console import error_text
    from .._control.exits import EXIT_DEFINITION
    from .._project.replace import apply
    from ..errors import DefinitionError

    try:
        notes = apply(proj, replace, wanted)
    except DefinitionError as e:
        click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)
    for note in notes:
        click.echo(f"[stack] warning: {note}", err=True)


replace_option = click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="NAME=URL",
    callback=_replacements,
    help="Use the endpoint at URL instead of starting service NAME (probed by the URL's "
    "scheme, never stopped); what depends on NAME gets URL. Repeatable.",
)


@main.command()
@profile_option
@json_option
def validate(profile: str | None, as_json: bool) -> None:
    """Check a profile and its service graph; exit non-zero with the file and key on error.

    --json prints {"ok": true, "file", "services", "selected", "levels", "aside"} (or
    {"ok": false, "error", "file", "key", "problems": [{"file", "line", "column", "key",
    "message"}, ...]}).
    """
    proj = load_or_exit(profile, as_json=as_json, programs=True)
    closure = proj.graph.closure(proj.selected)
    levels = proj.graph.levels(closure)
    where = proj.profile.path if proj.profile else proj.root
    if as_json:
        reply = {
            "ok": True,
            "file": str(where),
            "services": proj.graph.names,
            "selected": closure,
            "levels": levels,
            "aside": proj.aside,
        }
        click.echo(json.dumps(reply))
        return
    click.echo(f"ok: {where}: {plural(len(closure), 'service')}: {', '.join(closure)}")
    for i, level in enumerate(levels):
        click.echo(f"  start level {i}: {', '.join(level)}")
    for name, why in proj.aside.items():
        click.echo(f"  set aside (not needed by this profile's services): {name}: {why}")


@main.command()
@profile_option
@click.argument("services", nargs=-1)
@json_option
@mode_option
@state_dir_option
@click.option(
    "--on-demand",
    is_flag=True,
    hidden=True,
    help="Start nothing; serve the control socket and start services when asked "
    "(the launcher shared by pytest workers).",
)
@click.option(
    "--exit-with",
    type=int,
    default=None,
    hidden=True,
    help="Stop everything and exit when this process (e.g. pytest) is gone.",
)
@click.option(
    "--exit-code-from",
    default=None,
    metavar="SERVICE",
    help="Stop the stack when SERVICE ends (a task completes, a process exits) and exit with "
    "its code, e.g. a test suite run as a member of the stack.",
)
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Restart a service when files matching its `watch` patterns change.",
)
@replace_option
@no_tui_option
@dashboard_option
def run(
    profile: str | None,
    services: tuple[str, ...],
    as_json: bool,
    mode: str | None,
    state_dir: str | None,
    on_demand: bool,
    exit_with: int | None,
    exit_code_from: str | None,
    watch: bool,
    replace: dict[str, str],
    no_tui: bool,
    dashboard: bool,
) -> None:
    """Start SERVICES (default: the profile's) and what they need, in the foreground.

    Ctrl-C or SIGTERM stops everything gracefully in reverse order; a second Ctrl-C skips the
    remaining grace. Other terminals reach it with `stack status`, `stack logs`, ... through
    its control socket. At a terminal it shows the live view (keys: r restart, x stop,
    s start, k kill, f follow all logs, q quit); --no-tui, TERM=dumb or no terminal keep the
    plain lines. Exit codes: 0 all graceful, 1 some stop forced, 2 invalid profile,
    3 startup failed, 130 interrupted before ready.
    """
    from .._launcher import Options, finish, launch

    profile, state_dir = chosen(profile, state_dir, say=not as_json)
    opts = Options(
        profile,
        state_dir,
        list(services),
        mode,
        as_json,
        on_demand,
        exit_with,
        exit_code_from=exit_code_from,
        watch=watch,
        replace=replace,
        dashboard=dashboard,
    )
    if not (as_json or on_demand or exit_with is not None or exit_code_from) and live.wanted(
        no_tui
    ):
        from .. import _startup
        from .live import session

        _startup.release()  # (the live view's own objects come and go: _startup.py)
        proj = load_or_exit(profile, state_dir)
        check_replacements(proj, replace, list(services) or proj.selected)
        opts.profile = str(proj.profile.path) if proj.profile else None
        opts.state_dir = str(proj.state_dir)
        sys.exit(session.run_live(proj, opts, detachable=False))
    finish(launch(opts))
