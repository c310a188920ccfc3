"""Stopping a stack from outside (`stack down`): every wait bounded, and the exit code true.

A stack still starting (its lock held, its control socket not open yet) is waited for and
then stopped; a launcher that is stopped (SIGSTOP) or hung is named, and with `force` killed
(its watchdog then kills every service); a launcher that died before it recorded how it
stopped is reported as such, and what its watchdog had to kill is recorded as forced.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.cleanup import ledger, lock
from ..errors import LauncherStuck
from . import last_run
from .endpoint import Endpoint, find, read
from .exits import EXIT_FORCED, EXIT_INTERRUPTED, EXIT_OK
from .remote import RemoteControl

KILLED_WAIT = 10.0
"""Seconds a launcher killed with SIGKILL may take to be gone (its lock freed)."""


@dataclass
class Outcome:
    """What `stack down` says (`said` on stdout, `errors` on stderr) and its exit code.
    `running`: the launcher may still be there (the stop failed)."""

    code: int
    said: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    running: bool = False


def down(state_dir: Path, timeout: float, force: bool = False) -> Outcome:
    """Stop the stack using `state_dir` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = read(state_dir)  # before find() withdraws a dead launcher's pointer
    try:
        ep, why = _endpoint(state_dir, deadline)
    except LauncherStuck as e:
        return Outcome(1, errors=[f"error: {e}"], running=True)
    if ep is None:
        if last is not None and not last.alive() and not lock.held(state_dir):
            # It died without withdrawing its pointer (SIGKILL, as `down` was asked, say):
            # its watchdog killed its services; that was no graceful stop, so say so.
            return _ended(last, state_dir)
        return Outcome(EXIT_OK, said=[why])
    control = RemoteControl(ep)
    try:
        gone = control.down(max(0.0, deadline - time.monotonic()))
    except LauncherStuck as e:
        if force:
            return _kill(ep, ep.stuck() or str(e))
        return Outcome(1, errors=[f"error: {e}"], running=True)
    if not gone:
        if force:
            return _kill(ep, f"the launcher (pid {ep.pid}) was still stopping after {timeout:g}s")
        return Outcome(
            1,
            errors=[
                f"error: the launcher (pid {ep.pid}) is still stopping after {timeout:g}s; "
                "`stack down --force` kills it (and its watchdog what it started)"
            ],
            running=True,
        )
    return _ended(ep, state_dir)


def _endpoint(state_dir: Path, deadline: float) -> tuple[Endpoint | None, str]:
    """The stack to stop: the live one, answering or not (down() finds out why not); one
    still starting is waited for until its socket is up (LauncherStuck at `deadline`)."""
    while True:
        ep, why = find(state_dir)
        if ep is not None:
            return ep, ""
        pointer = read(state_dir)
        if pointer is not None and pointer.alive():
            return pointer, ""
        if not lock.held(state_dir):
            return None, why
        if time.monotonic() >= deadline:
            by = lock.holder_pid(state_dir)
            raise LauncherStuck(
                f"a launcher{f' (pid {by})' if by else ''} holds state dir {state_dir} but "
                f"did not open its control socket in time; see {state_dir / 'launcher.log'}"
            )
        time.sleep(0.05)


def _kill(ep: Endpoint, why: str) -> Outcome:
    """--force: SIGKILL the launcher (its watchdog kills its services at once)."""
    state_dir = Path(ep.state_dir)
    if not ep.same_process():
        return Outcome(
            1,
            errors=[f"error: {why}; it runs in another PID namespace: kill it from there"],
            running=True,
        )
    os.kill(ep.pid, signal.SIGKILL)
    if not RemoteControl(ep).wait_gone(time.monotonic() + KILLED_WAIT):
        return Outcome(1, errors=[f"error: launcher pid {ep.pid} survived SIGKILL"], running=True)
    outcome = _ended(ep, state_dir, killed=True)
    outcome.errors.insert(0, f"error: {why}; killed it (--force)")
    return outcome


def _ended(ep: Endpoint, state_dir: Path, killed: bool = False) -> Outcome:
    """The launcher is gone: what its record says, or, when it died before it wrote one,
    what its watchdog had to kill (recorded as forced)."""
    last = last_run.read(state_dir)
    if last:
        code = int(last["exit_code"])
        if code == EXIT_INTERRUPTED:  # `down` stopped its start: that is what was asked
            code = EXIT_FORCED if any(not s["graceful"] for s in last["stops"]) else EXIT_OK
        return Outcome(code, said=[last_run.summary(last)])
    forced = ledger.recorded(ledger.path_for(state_dir, ep.stack_id))
    died = last_run.died(state_dir, ep.pid, forced, killed)
    return Outcome(EXIT_FORCED, errors=[f"error: {last_run.summary(died)}"])
