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

from .._engine.cleanup import ledger, lock
from ..errors import LauncherStuck
from . import last_run
from .endpoint import Endpoint, find, read, starting
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
        begun = starting(state_dir)
        if force and begun is not None and begun.here and begun.pid:
            return _kill_starting(state_dir, begun.pid, str(e))
        return Outcome(1, errors=[f"error: {e}"], running=True)
    if ep is None:
        if last is not None and not last.alive() and not lock.held(state_dir):
            # It died without withdrawing its pointer (SIGKILL, as `down` was asked, say):
            # its watchdog killed its services; that was no graceful stop, so say so.
            return _ended(last, state_dir, _Running(ledger.path_for(state_dir, last.stack_id)))
        return Outcome(EXIT_OK, said=[why])
    control = RemoteControl(ep)
    running = _Running(ledger.path_for(state_dir, ep.stack_id))
    try:
        gone = control.down(max(0.0, deadline - time.monotonic()), running.look)
    except LauncherStuck as e:
        if force:
            return _kill(ep, ep.stuck() or str(e), running)
        return Outcome(1, errors=[f"error: {e}"], running=True)
    if not gone:
        if force:
            why = f"the launcher (pid {ep.pid}) was still stopping after {timeout:g}s"
            return _kill(ep, why, running)
        return Outcome(
            1,
            errors=[
                f"error: the launcher (pid {ep.pid}) is still stopping after {timeout:g}s; "
                "`stack down --force` kills it (and its watchdog what it started)"
            ],
            running=True,
        )
    outcome = _ended(ep, state_dir, running)
    outcome.said[:0] = [why] if why else []
    return outcome


class _Running:
    """What a stack's ledger listed when last looked at while its launcher was there: the
    services its watchdog kills if it dies (the ledger may be gone by the time we know:
    swept by another `stack` command)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.services: list[str] = []
        self.look()

    def look(self) -> None:
        self.services = ledger.recorded(self.path) or self.services

    def now(self) -> list[str]:
        return ledger.recorded(self.path) or self.services


def _endpoint(state_dir: Path, deadline: float) -> tuple[Endpoint | None, str]:
    """The stack to stop: the live one, answering or not (down() finds out why not); one
    still starting is waited for until its socket is up (LauncherStuck at `deadline`); then
    the second value says so."""
    note = ""
    while True:
        ep, why = find(state_dir)
        if ep is not None:
            return ep, note
        pointer = read(state_dir)
        if pointer is not None and pointer.alive():
            return pointer, note
        begun = starting(state_dir)
        if begun is None:
            return None, why
        note = note or f"{begun}: stopped it once it answered"
        if begun.stopped:  # it would never open its socket: named at once
            raise LauncherStuck(str(begun))
        if time.monotonic() >= deadline:
            by = lock.holder_pid(state_dir)
            raise LauncherStuck(
                f"a launcher{f' (pid {by})' if by else ''} holds state dir {state_dir} but "
                f"did not open its control socket in time; see {state_dir / 'launcher.log'}"
            )
        time.sleep(0.05)


def _kill_starting(state_dir: Path, pid: int, why: str) -> Outcome:
    """--force on a stack still starting whose lock holder (in our PID namespace) is stuck:
    SIGKILL it; its watchdog, if it has one yet, kills what it started, and its lock's
    release lets the next sweep clean up the rest."""
    stack_id = (lock.holder(state_dir) or lock.Holder(None, None)).stack_id
    forced = ledger.recorded(ledger.path_for(state_dir, stack_id)) if stack_id else []
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILLED_WAIT
    while lock.held(state_dir):
        if time.monotonic() >= deadline:
            return Outcome(1, errors=[f"error: pid {pid} survived SIGKILL"], running=True)
        time.sleep(0.05)
    died = last_run.died(state_dir, pid, forced, killed=True)
    return Outcome(
        EXIT_FORCED,
        errors=[f"error: {why}; killed it (--force)", f"error: {last_run.summary(died)}"],
    )


def _kill(ep: Endpoint, why: str, running: _Running) -> Outcome:
    """--force: SIGKILL the launcher (its watchdog kills its services at once)."""
    state_dir = Path(ep.state_dir)
    if not ep.same_process():
        return Outcome(
            1,
            errors=[f"error: {why}; it runs in another PID namespace: kill it from there"],
            running=True,
        )
    running.look()
    os.kill(ep.pid, signal.SIGKILL)
    if not RemoteControl(ep).wait_gone(time.monotonic() + KILLED_WAIT):
        return Outcome(1, errors=[f"error: launcher pid {ep.pid} survived SIGKILL"], running=True)
    outcome = _ended(ep, state_dir, running, killed=True)
    outcome.errors.insert(0, f"error: {why}; killed it (--force)")
    return outcome


def _ended(ep: Endpoint, state_dir: Path, running: _Running, killed: bool = False) -> Outcome:
    """The launcher is gone: what its record says, or, when it died before it wrote one,
    what its watchdog had to kill (recorded as forced)."""
    last = last_run.read(state_dir)
    if last:
        code = int(last["exit_code"])
        if code == EXIT_INTERRUPTED:  # `down` stopped its start: that is what was asked
            code = EXIT_FORCED if any(not s["graceful"] for s in last["stops"]) else EXIT_OK
        return Outcome(code, said=[last_run.summary(last)])
    died = last_run.died(state_dir, ep.pid, running.now(), killed)
    return Outcome(EXIT_FORCED, errors=[f"error: {last_run.summary(died)}"])
