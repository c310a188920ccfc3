"""Opening the live view: on a launcher started detached for it (`stack run` at a terminal,
`stack up --attach`) or on one already running (`stack attach`), and what the command says
and returns once the view closes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import click
import psutil

from ... import _launcher as launcher
from ... import _project as projects
from ..._control import last_run
from ..._control.exits import EXIT_DEFINITION, EXIT_OK, EXIT_STARTUP
from ..._control.remote import RemoteControl
from ..._launcher import detached
from ..common import check_state_dir, failed_to_start


def show(control: RemoteControl, detachable: bool) -> str | None:
    """Run the view until it closes; how it ended (app.STOPPED, DETACHED, LEFT, GONE_AWAY), or
    None if the view itself failed."""
    from .app import LiveView  # Textual loads here, never when `stack` starts

    return LiveView(control, detachable=detachable).run()


def run_live(proj: projects.Project, opts: launcher.Options, detachable: bool) -> int:
    """Start the launcher detached, show its stack while it starts and runs, and return its
    exit code once it is stopped (or 0 when the person detached)."""
    log = proj.state_dir / "launcher.log"
    check_state_dir(proj.state_dir)  # (nothing is removed from a dir that is not one)
    log.unlink(missing_ok=True)
    last_run.forget(proj.state_dir)  # never report an older run
    if not detachable:
        opts.exit_with = os.getpid()  # `stack run` killed or its terminal closed: stack stops
    try:
        proc, control = detached.start_detached(opts, proj.root, log, 120, until=None)
    except detached.LauncherExited as e:
        failed_to_start(e.tail)
        return e.code if e.code is not None else EXIT_STARTUP
    except TimeoutError as e:
        click.echo(f"error: {e}", err=True)
        return EXIT_STARTUP
    with control:
        if opts.dashboard:  # (above the view: on the terminal once it closes, or detaches)
            click.echo(f"dashboard: {control.status()['stack'].get('dashboard')}")
        outcome = show(control, detachable)
        if outcome is None and not detachable:  # the view broke: the stack must not live on
            with contextlib.suppress(Exception):
                control.down()
    return finish(outcome, proj.state_dir, proc.pid, proc, log)


def attach(control: RemoteControl) -> int:
    """`stack attach`: the view of a running stack; `d` leaves it running."""
    outcome = show(control, detachable=True)
    where = Path(control.endpoint.state_dir)
    return finish(outcome, where, control.endpoint.pid, None, where / "launcher.log")


def finish(
    outcome: str | None,
    state_dir: Path,
    pid: int,
    proc: subprocess.Popen[bytes] | None,
    log: Path,
) -> int:
    """After the view: say how the stack ended and return the launcher's exit code."""
    from .app import DETACHED, LEFT

    if outcome == DETACHED or outcome is None:
        click.echo(
            f"detached: the stack runs on (launcher pid {pid}); `stack attach` shows it "
            "again, `stack down` stops it"
        )
        return EXIT_OK
    if outcome == LEFT:
        click.echo(
            f"[stack] waiting for the stack to stop (launcher pid {pid}, log {log}); "
            "Ctrl-C twice skips the remaining grace"
        )
    returned: int | None = None
    previous = signal.signal(signal.SIGINT, lambda *_: _forward(pid))
    try:
        if proc is not None:
            returned = proc.wait()  # 0 if down() reaped it first: last-run.json tells
        else:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    last = last_run.read(state_dir)
    if "exit_code" in last:
        code = int(last["exit_code"])
    else:
        code = returned if returned is not None else EXIT_DEFINITION
    if code == EXIT_STARTUP or not last:
        tail = log.read_text(errors="replace").splitlines()[-30:] if log.exists() else []
        failed_to_start(tail)
    if last:
        click.echo(f"[stack] {last_run.summary(last)}")
    return code


def _forward(pid: int) -> None:
    """Ctrl-C while the launcher stops: it counts them as its own (the second one skips the
    remaining grace), as in the plain `stack run`."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGINT)
