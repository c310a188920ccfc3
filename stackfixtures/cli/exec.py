"""`stack exec -- CMD`: any project's tests in one command, with the stack's endpoints in
their environment (`stack env` prints them: cli/env.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._control.exits import EXIT_DEFINITION, EXIT_STARTUP, shell_code
from .common import (
    SECONDS,
    check_names,
    failed_to_start,
    interrupted,
    load_or_exit,
    main,
    profile_option,
    state_dir_option,
)
from .run import check_replacements, mode_option, replace_option

if TYPE_CHECKING:
    from .._control.remote import RemoteControl

EXIT_NOT_FOUND = 127
"""CMD could not be found (like a shell); the stack was stopped."""
EXIT_NOT_EXECUTABLE = 126


@main.command(
    name="exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@profile_option
@state_dir_option
@mode_option
@click.option(
    "--service", "-s", "services", multiple=True, help="Start only these (and what they need)."
)
@click.option(
    "--logs",
    is_flag=True,
    help="Show the services' output here too (without it, it goes only to their log files).",
)
@click.option(
    "--timeout", type=SECONDS, default=300.0, show_default=True, help="Seconds to wait for ready."
)
@replace_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(
    profile: str | None,
    state_dir: str | None,
    mode: str | None,
    services: tuple[str, ...],
    logs: bool,
    timeout: float,
    replace: dict[str, str],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with the stack's endpoints in its environment, and exit with its code.

    Starts the profile's stack if it is not running (and stops it afterwards, gracefully, in
    reverse order); if it runs already, uses it and leaves it running. Ctrl-C reaches COMMAND
    first; then the stack stops. SIGINT or SIGTERM sent to exec alone (a supervisor,
    `timeout -s INT`) is passed on to COMMAND; exec then stops the stack it started and exits
    130 or 143. COMMAND is looked up first in the activated virtualenv, then in stack's own.
    Example: `stack exec -p test -- pytest -x`.
    """
    from .._control.discover import state_dir_for
    from .._control.remote import connect
    from ..errors import AmbiguousStack, ControlError, DefinitionError, NotRunning

    args = list(command[1:] if command and command[0] == "--" else command)
    _check_command(args)
    control: RemoteControl | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        control = connect(state_dir_for(profile, state_dir))
    except AmbiguousStack as e:  # as every command for a running stack: say which
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    except (NotRunning, DefinitionError, ControlError):
        control = None
    if control is not None and replace:
        _check_replaced(control.status(), replace)
    if control is not None:  # a template whose identity changed is rebuilt first
        _refresh_templates(control, profile, state_dir)
    if control is None:  # start it, and stop it afterwards
        proc, control = _start(profile, state_dir, mode, services, logs, timeout, replace)
    code = EXIT_STARTUP
    try:
        status = control.status()
        if proc is None:
            check_names(services, [s["name"] for s in status["services"]])
        code = _run(args, status)
    finally:  # whatever happened to the command, what exec started is stopped
        if proc is not None:
            with contextlib.suppress(Exception):
                control.down()
                if not logs:  # (with --logs the launcher's own lines said it)
                    _said_stopped(Path(control.endpoint.state_dir))
    sys.exit(code)


def _said_stopped(state: Path) -> None:
    """`[stack] stopped 3 services gracefully`, once the stack exec started is down."""
    from .._control import last_run

    last = last_run.read(state)
    if last:
        click.echo(f"[stack] {last_run.summary(last)}", err=True)


def _check_command(args: list[str]) -> None:
    """A command that cannot be found fails before a stack is started for it (127, as a
    shell), looked up on the PATH it will run with; a Python program from neither the
    activated virtualenv nor stack's own is named (it sees another Python's packages)."""
    import shutil

    from .._engine.venv import foreign_python, own_bin_first, venv_bins

    env = own_bin_first(dict(os.environ))
    if args and "/" not in args[0] and shutil.which(args[0], path=env.get("PATH")) is None:
        click.echo(f"error: {args[0]}: command not found", err=True)
        sys.exit(EXIT_NOT_FOUND)
    found = foreign_python(args[0], env) if args else None
    if found is not None:
        searched = " nor ".join(os.path.dirname(b) for b in venv_bins(env))
        click.echo(
            f"[stack] note: {args[0]} is {found}, a Python program from neither {searched}: "
            "it runs with that Python's packages (the project's, and stackfixtures' pytest "
            f"plugin, only if installed there); install {os.path.basename(args[0])} in the "
            "virtualenv to use its packages",
            err=True,
        )


def _refresh_templates(control: RemoteControl, profile: str | None, state_dir: str | None) -> None:
    """Rebuild the running stack's templates whose identity changed, saying so; exit 3 when a
    rebuild fails (an edited migration's SQL error: the builder's error, not a traceback)."""
    from .._control.templates import refresh
    from ..errors import ProtocolMismatch, StackError

    try:
        for line in refresh(control, profile, state_dir):
            click.echo(f"[stack] {line}", err=True)
    except ProtocolMismatch as e:  # not a rebuild's failure: another version's launcher
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    except (StackError, TimeoutError) as e:
        click.echo(f"error: the template rebuild failed: {e}", err=True)
        sys.exit(EXIT_STARTUP)


def _start(
    profile: str | None,
    state_dir: str | None,
    mode: str | None,
    services: tuple[str, ...],
    logs: bool,
    timeout: float,
    replace: dict[str, str],
) -> tuple[subprocess.Popen[bytes], RemoteControl]:
    """Start the stack detached and wait until it is up. With a profile named, the launcher
    alone reads it (one process loading the project, not two); without one, or to check
    replacements first, this process loads it too."""
    from .. import _launcher as launcher
    from .._config.locate import find_root, state_dir_of
    from .._config.read import resolve_path
    from .._control.console import error_text
    from .._launcher import detached
    from ..errors import DefinitionError

    path: Path | None
    if profile and not replace:
        root = find_root()
        path = resolve_path(profile, root).resolve()
        try:
            state = Path(state_dir).resolve() if state_dir else state_dir_of(profile, root)
        except DefinitionError as e:  # e.g. no such profile file
            click.echo(error_text(e), err=True)
            sys.exit(EXIT_DEFINITION)
    else:
        proj = load_or_exit(profile, state_dir)
        check_names(services, proj.graph.names)
        check_replacements(proj, replace, list(services) or proj.selected)
        root, state = proj.root, proj.state_dir
        path = proj.profile.path if proj.profile else None
    log = None if logs else state / "launcher.log"
    opts = launcher.Options(
        profile=str(path) if path else None,
        state_dir=str(state),
        services=list(services),
        mode=mode,
        replace=replace,
        exit_with=os.getpid(),  # if exec dies (Ctrl-C while it waits, a CI cancel), so does it
    )
    if log is not None:  # (with --logs its own lines say what happens)
        click.echo(f"[stack] starting the stack in {state} (its log: {log.name} there)", err=True)
    t0 = time.monotonic()
    try:
        started = detached.start_detached(opts, root, log, timeout)
        if log is not None:
            click.echo(f"[stack] up in {time.monotonic() - t0:.1f}s", err=True)
        return started
    except detached.LauncherExited as e:
        if e.code == EXIT_DEFINITION:  # a mistake in the profile or the command: as it said
            click.echo("\n".join(e.tail) or f"error: {e}", err=True)
            sys.exit(EXIT_DEFINITION)
        failed_to_start(e.tail)
        sys.exit(EXIT_STARTUP)
    except TimeoutError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    except KeyboardInterrupt:
        interrupted()


def _check_replaced(status: dict[str, Any], replace: dict[str, str]) -> None:
    """A running stack is used as it is: --replace must be what it was started with."""
    running = status["stack"].get("replaced") or {}
    if any(running.get(name) != url for name, url in replace.items()):
        now = ", ".join(f"{n}={u}" for n, u in running.items()) or "nothing replaced"
        click.echo(
            f"error: a stack already runs ({now}); --replace applies to a stack that exec "
            "starts: stop it with `stack down`, or leave --replace out to use it",
            err=True,
        )
        sys.exit(EXIT_DEFINITION)


SI_KERNEL = 0x80
"""siginfo's si_code of a signal the kernel sent: a terminal's Ctrl-C (sent to the whole
foreground process group, so the command has it already), unlike kill(2)'s SI_USER."""


def _run(args: list[str], status: dict[str, Any]) -> int:
    """Run the command in the foreground with the endpoints in its environment; its code, or
    128 + the signal passed on to it (130 for SIGINT, 143 for SIGTERM)."""
    from .._control.environment import ATTACH_ENV, command_env, endpoint_env
    from .._engine.venv import own_bin_first

    env, notes = endpoint_env(status)
    for note in notes:
        click.echo(f"[stack] {note}", err=True)
    env[ATTACH_ENV] = status["stack"]["state_dir"]  # `pytest` under exec uses this stack
    if status["stack"].get("profile_path"):  # ... and its profile, whatever its ini names
        env["STACK_PROFILE"] = status["stack"]["profile_path"]
    # Blocked from before the command starts (it unblocks them for itself), so that exec
    # sees each signal with its sender (see _pass_on), none lost in between.
    signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    try:
        child = subprocess.Popen(
            args, env=own_bin_first(command_env(status, env)), preexec_fn=_unblock
        )
    except FileNotFoundError:
        click.echo(f"error: {args[0]}: command not found", err=True)
        return EXIT_NOT_FOUND
    except PermissionError as e:
        click.echo(f"error: {args[0]}: {e.strerror}", err=True)
        return EXIT_NOT_EXECUTABLE
    passed = _pass_on(child)
    code = child.wait()
    return 128 + passed if passed else shell_code(code)


_PASSED_ON = (signal.SIGINT, signal.SIGTERM)
_WATCHED = {*_PASSED_ON, signal.SIGCHLD}


def _unblock() -> None:
    """In the command's process, before it runs: the signals exec blocked are its own again."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)


def _pass_on(child: subprocess.Popen[bytes]) -> int | None:
    """Wait for the command, passing on to it SIGINT and SIGTERM sent to exec (by a
    supervisor, `timeout -s INT`, `kill`): the last one passed on, if any. A terminal's Ctrl-C
    reaches the command itself (same process group) and is not sent twice. The signals stay
    blocked afterwards: stopping what exec started is not interrupted, and exec exits then."""
    passed: int | None = None
    while child.poll() is None:
        info = signal.sigtimedwait(_WATCHED, 1.0)  # SIGCHLD wakes it when the command ends
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if info.si_signo == signal.SIGINT and info.si_code == SI_KERNEL:
            continue  # the terminal's Ctrl-C: the command got it too
        child.send_signal(info.si_signo)
        passed = int(info.si_signo)
    return passed
