"""`stack up` (the launcher detached, like `docker compose up --wait`) and `stack down`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._control.exits import EXIT_DEFINITION, EXIT_INTERRUPTED, EXIT_OK, EXIT_STARTUP
from ..errors import AmbiguousStack, DefinitionError, LauncherStuck, ProtocolMismatch
from . import live
from .common import (
    SECONDS,
    check_names,
    check_state_dir,
    chosen,
    control_for,
    failed_to_start,
    interrupted,
    json_option,
    load_or_exit,
    main,
    profile_option,
    state_dir_option,
)
from .dashboard import dashboard_option, tell
from .run import mode_option

if TYPE_CHECKING:
    from .._control.remote import RemoteControl
    from .._launcher import detached
    from .._project import Project


@main.command()
@profile_option
@state_dir_option
@mode_option
@json_option
@click.option(
    "--timeout", type=SECONDS, default=300.0, show_default=True, help="Seconds to wait for ready."
)
@click.option(
    "--watch", is_flag=True, help="Restart a service when files matching its `watch` change."
)
@click.option(
    "--attach",
    is_flag=True,
    help="Then show the live view (d detaches, q stops the stack); needs a terminal.",
)
@click.option(
    "-d", "--detach", is_flag=True, help="Accepted as Compose's: `up` always runs detached."
)
@dashboard_option
@click.argument("services", nargs=-1)
def up(
    profile: str | None,
    state_dir: str | None,
    mode: str | None,
    as_json: bool,
    timeout: float,
    watch: bool,
    attach: bool,
    detach: bool,
    dashboard: bool,
    services: tuple[str, ...],
) -> None:
    """Start the stack detached; return once every service is ready, printing the endpoints.

    Like `docker compose up --wait`: if it runs already, exit 0, restarting the services whose
    definition changed since. A service that fails to start ends it at once (exit 3), with
    nothing left running. Stop it with `stack down`. Ctrl-C, SIGTERM or a `stack down` during
    the start stop it (exit 130); once started, the stack runs on its own (detached).
    """

    # SIGTERM stops a start as Ctrl-C does (`kill` of `stack up` leaves nothing starting)
    signal.signal(signal.SIGTERM, _interrupt)
    reserved = None
    try:
        profile, state_dir = chosen(profile, state_dir, say=not as_json)
        reserved = _reserve(profile, state_dir)
        _up(
            profile, state_dir, mode, as_json, timeout, watch, attach, dashboard, services, reserved
        )
        if reserved is not None:
            reserved.holding.release()  # (handed over already, unless nothing was started)
    except KeyboardInterrupt:
        if reserved is not None and reserved.holding.fd >= 0:  # no launcher yet
            reserved.release()
            click.echo("interrupted: nothing was started", err=True)
            sys.exit(EXIT_INTERRUPTED)
        interrupted()
    except BaseException:
        if reserved is not None and reserved.holding.fd >= 0:  # (a mistake in the profile)
            reserved.release()
        raise


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _reserve(profile: str | None, state_dir: str | None) -> detached.Reservation | None:
    """The state dir's lock, taken as soon as the state dir is known from the profile's name
    (before the project is validated): a `down` at once after `up` stops this start. None
    when it cannot be taken here (the launch then says why, or waits for another start)."""
    from .._config.locate import find_root
    from .._control.discover import state_dir_for
    from .._launcher import detached

    if not (profile or state_dir):
        return None
    try:
        where = state_dir_for(profile, state_dir)
        return detached.reserve(where, Path(profile).stem if profile else None, find_root())
    except Exception:  # (an unreadable profile, a busy state dir: said later, where it is)
        return None


def _up(
    profile: str | None,
    state_dir: str | None,
    mode: str | None,
    as_json: bool,
    timeout: float,
    watch: bool,
    attach: bool,
    dashboard: bool,
    services: tuple[str, ...],
    reserved: detached.Reservation | None,
) -> None:
    from .. import _launcher as launcher
    from .._control import endpoint
    from .._control.remote import RemoteControl
    from .._launcher import detached

    proj = load_or_exit(profile, state_dir, cache=True)
    if reserved is not None and os.path.realpath(proj.state_dir) != os.path.realpath(
        reserved.holding.path.parent
    ):  # (the profile put it elsewhere after all)
        reserved.release()
        reserved = None
    check_names(services, proj.graph.names)
    running, _ = endpoint.find(proj.state_dir)
    if running is not None:  # like `compose up`: bring it in line with the definitions
        try:
            with RemoteControl(running) as control:
                _refresh(control, proj, as_json)
                if dashboard and not as_json:
                    tell(control.status(), asked=True)
        except LauncherStuck as e:  # stopped (SIGSTOP) or hung: say so, do not wait on it
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except ProtocolMismatch as e:  # another version's launcher: `down` is what it takes
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_DEFINITION)
        return
    log_path = proj.state_dir / "launcher.log"
    check_state_dir(proj.state_dir)  # (nothing is removed from a dir that is not one)
    opts = launcher.Options(
        profile=str(proj.profile.path) if proj.profile else None,
        state_dir=str(proj.state_dir),
        services=list(services),
        mode=mode,
        watch=watch,
        dashboard=dashboard,
    )
    if watch and not any(proj.graph[n].watch for n in proj.graph.names):
        click.echo(f"warning: --watch: no service of {proj.label} declares `watch`", err=True)
    if attach and not as_json:
        why = live.missing()
        if why is None:
            from .live import session

            if reserved is not None:  # the live view takes the lock itself
                reserved.release()

            sys.exit(session.run_live(proj, opts, detachable=True))
        click.echo(f"note: --attach: the live view {why}; starting detached only", err=True)
    try:
        proc, control = detached.start_detached(
            opts,
            proj.root,
            log_path,
            timeout,
            on_line=_show_progress,
            fresh_log=True,
            reserved=reserved,
        )
    except detached.LauncherBusy as e:  # another `stack up` is starting it: wait for that one
        with _started_by_another(proj.state_dir, e.pid, timeout) as control:
            _refresh(control, proj, as_json)
        return
    except detached.LauncherExited as e:
        if e.code == EXIT_INTERRUPTED:  # `stack down` (or a signal to the launcher)
            click.echo("error: the start was stopped (stack down); nothing is running", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if e.code == EXIT_DEFINITION:  # a mistake in the profile (a program not found): as said
            click.echo("\n".join(e.tail) or f"error: {e}", err=True)
            sys.exit(EXIT_DEFINITION)
        failed_to_start(e.tail)
        sys.exit(EXIT_STARTUP)
    except TimeoutError as e:  # the launcher was stopped, and what it started with it
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    except LauncherStuck as e:  # stopped (SIGSTOP) while starting: say so, do not wait on it
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    with control:
        status: dict[str, Any] = control.status()
    if as_json:
        click.echo(json.dumps(status))
        return
    click.echo(f"stack {status['stack']['id']} is up (launcher pid {proc.pid}, log {log_path})")
    _table(status)


def _started_by_another(state_dir: Path, pid: int | None, timeout: float) -> RemoteControl:
    """The stack another `stack up` (or launcher, pid `pid`) is starting, once it is up;
    exits 3 when that start fails or does not end within `timeout` seconds."""
    import time

    from .._control.endpoint import find, read, starting
    from .._control.remote import RemoteControl
    from .._engine.cleanup import lock
    from .._launcher import detached
    from ..errors import ControlError

    by = f" (pid {pid})" if pid else ""
    click.echo(f"another launcher{by} is starting this stack; waiting for it", err=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ep, _ = find(state_dir)
        pointer = read(state_dir)
        stuck = pointer.stuck() if pointer is not None and pointer.alive() else None
        begun = starting(state_dir) if ep is None else None
        stuck = stuck or (str(begun) if begun is not None and begun.stopped else None)
        if stuck:
            click.echo(f"error: {stuck}", err=True)
            sys.exit(1)
        if ep is not None:
            control = RemoteControl(ep)
            try:
                if detached.closure_up(control):
                    return control
            except detached.ServiceFailed as e:
                failed_to_start(e.tail)
                sys.exit(EXIT_STARTUP)
            except LauncherStuck as e:
                click.echo(f"error: {e}", err=True)
                sys.exit(1)
            except (OSError, ControlError):
                pass  # going down, or not answering yet: look again
        elif not lock.held(state_dir):
            click.echo(
                f"error: the start of the stack with state dir {state_dir}{by} failed; "
                f"see {state_dir / 'launcher.log'}",
                err=True,
            )
            sys.exit(EXIT_STARTUP)
        time.sleep(0.1)
    click.echo(f"error: the stack was not up within {timeout:g}s", err=True)
    sys.exit(EXIT_STARTUP)


def _show_progress(line: str) -> None:
    """The launcher's progress lines (a service still starting, and what it waits for)."""
    if line.startswith("[stack] ") and (": still starting" in line or ": still waiting" in line):
        click.echo(line, err=True)


def _refresh(control: RemoteControl, proj: Project, as_json: bool) -> None:
    """The stack runs already: restart what changed since it started (by fingerprint)."""
    from .._project import fingerprints

    theirs = control.status()["stack"].get("fingerprints", {})
    changed: dict[str, Any] = {"changed": [], "restarted": []}
    if theirs != fingerprints(proj.graph, proj.root):
        changed = control.reload()
    status = control.status()
    from .._control.templates import rebuilt

    templates = rebuilt(control, status, changed["restarted"])
    if as_json:
        click.echo(json.dumps({**status, **changed, "templates": templates}))
        return
    for line in templates:  # (a rebuilt template: the next test's database is cloned from it)
        click.echo(line)
    if changed["changed"]:
        click.echo(
            f"stack {status['stack']['id']} was running; changed: {', '.join(changed['changed'])}"
            f"; restarted: {', '.join(changed['restarted']) or 'nothing'}"
        )
    else:
        click.echo(f"stack {status['stack']['id']} is already up, with the same configuration")
    _table(status)


def _table(status: dict[str, Any]) -> None:
    from .._control.console import Console

    rows = [s for s in status["services"] if s["state"] != "pending"]
    Console([r["name"] for r in rows]).table(rows, ["name", "state", "endpoint", "pid"])
    tell(status)


@main.command()
@profile_option
@state_dir_option
@click.option(
    "--timeout",
    type=SECONDS,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the launcher to finish stopping.",
)
@click.option(
    "--volumes",
    "-v",
    is_flag=True,
    help="Then remove its data, logs and events, wherever they live (like compose down -v).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Kill the launcher if it is stopped, hung or still stopping after --timeout "
    "(its watchdog then kills every service at once).",
)
def down(
    profile: str | None, state_dir: str | None, timeout: float, volumes: bool, force: bool
) -> None:
    """Stop a detached (or foreground) stack gracefully, in reverse order. A stack still
    starting is waited for, then stopped."""
    from .._config.locate import find_root
    from .._control import stopping
    from .._control.console import Console
    from .._control.discover import state_dir_for
    from .._engine.cleanup import ledger
    from .._launcher import report_sweep
    from ..errors import NotRunning

    root = None
    with contextlib.suppress(Exception):
        root = find_root()
    try:
        where = state_dir_for(profile, state_dir)
    except NotRunning as e:  # like `compose down`: nothing running is no error
        report_sweep(Console([]), ledger.sweep(), root)
        click.echo(str(e))
        sys.exit(EXIT_OK)
    except (DefinitionError, AmbiguousStack) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    outcome = stopping.down(where, timeout, force)
    # Crashed stacks swept after: a launcher of this state dir that died under us has its
    # ledger read first (what its watchdog killed is what `down` reports as forced).
    report_sweep(Console([]), ledger.sweep(), root)
    for line in outcome.said:
        click.echo(line)
    for line in outcome.errors:
        click.echo(line, err=True)
    if volumes and not outcome.running:
        from .clean import remove

        given = Path(os.path.abspath(state_dir)) if state_dir else None  # a link: refused
        code = remove(given or where, [root] if root is not None else [])
        sys.exit(max(outcome.code, code))
    sys.exit(outcome.code)


@main.command()
@profile_option
@state_dir_option
def attach(profile: str | None, state_dir: str | None) -> None:
    """Show the live view of a running stack (one started by `stack up` or `stack run`).

    Keys: r restart, x stop, s start, k kill (the selected service), f follow all logs,
    d detach (the stack runs on), q quit (stop the stack). Needs a terminal.
    """
    with control_for(profile, state_dir) as control:
        why = live.missing()
        if why is not None:
            click.echo(f"error: stack attach {why} (see `stack logs -f`)", err=True)
            sys.exit(EXIT_DEFINITION)
        from .live import session

        code = session.attach(control)
    sys.exit(code)
