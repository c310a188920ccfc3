"""Starting a launcher detached (`launcher.argv(...)`), and waiting until its control socket
answers or its stack is up: what `stack up`, `stack exec`, the live view, the shutdown
benchmark and the pytest workers' shared stack all do, through `start_detached`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import _launcher as launcher
from .._control.console import mask
from .._control.endpoint import find, process_state, resume_hint
from .._control.exits import EXIT_DEFINITION, EXIT_STARTUP
from .._control.remote import RemoteControl, TransportError
from .._ended import how_it_ended
from .._engine import private_files, state_dirs
from .._engine.cleanup import lock
from ..errors import ControlError, LauncherStuck, NotAStateDir, StateDirBusy
from ..errors import LauncherBusy as LauncherBusy
from ..errors import LauncherExited as LauncherExited
from ..errors import ServiceFailed as ServiceFailed

STOP_WAIT = 60.0
"""How long a launcher that timed out may take to stop its services before it is killed."""


def _busy(why: StateDirBusy) -> LauncherBusy:
    return LauncherBusy(EXIT_DEFINITION, [f"error: {why}"], str(why), why.pid)


def _exited(code: int | None, log: Path | None, since: int) -> LauncherExited:
    """From this run's output in `log` (after offset `since`): all of it for a mistake in the
    profile or the command, else from its first error line, else its last 30 lines."""
    lines = _lines(log, since)
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if code != EXIT_DEFINITION:
        lines = lines[errors[0] :] if errors else lines[-30:]
    where = f"; see {log}" if log else ""
    return LauncherExited(code, lines, f"the launcher {how_it_ended(code)}{where}")


def _lines(log: Path | None, since: int) -> list[str]:
    if log is None:
        return []
    try:
        with log.open("rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace").splitlines()
    except OSError:
        return []


def _start(
    argv: list[str], cwd: Path, log: Path | None, keep: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    """Start it in a session of its own (no terminal signals), its output appended to `log`
    (None: to our own output, e.g. `stack exec --logs`); `keep`: file descriptors it gets."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(private_files.open_append(log), "ab") if log else contextlib.nullcontext() as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out if out is not None else None,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
            pass_fds=keep,
        )


def _wait(
    proc: subprocess.Popen[bytes],
    state_dir: Path,
    log: Path | None,
    timeout: float,
    until: Callable[[RemoteControl], bool] | None = None,
    on_line: Callable[[str], None] | None = None,
    since: int = 0,
) -> RemoteControl:
    """A client for the launcher once its socket answers and `until(client)` holds. Waits on
    the stack's events (a long poll), so readiness is seen as soon as it happens. `on_line`
    is given each new line of the launcher's log after offset `since` (its progress lines)."""
    deadline = time.monotonic() + timeout
    client: RemoteControl | None = None
    seen = 0
    read = since
    stopped_at: float | None = None
    while time.monotonic() < deadline:
        if on_line is not None and log is not None:
            read = _follow(log, read, on_line)
        stopped_at = _check_stopped(proc, stopped_at)
        if proc.poll() is not None:
            if client is not None:
                client.close()
            raise _exited(proc.returncode, log, since)
        if client is None:
            ep, _ = find(state_dir)
            if ep is None:
                time.sleep(0.01)
                continue
            client = RemoteControl(ep)
        try:
            if until is None or until(client):
                return client
            seen += len(client.events(since=seen, wait=min(1.0, deadline - time.monotonic())))
        except (*TransportError, ControlError):  # it is going down: poll() will tell
            time.sleep(0.01)
        except ServiceFailed:
            client.close()
            raise
    if client is not None:
        client.close()
    raise TimeoutError(f"the launcher was not ready within {timeout:g}s; see {log}")


STOPPED_FOR = 2.0
"""Seconds the launcher must stay stopped (state T) before a start waiting for it says so."""


def _check_stopped(proc: subprocess.Popen[bytes], since: float | None) -> float | None:
    """When the launcher was first seen stopped (SIGSTOP) in a row, or None if it runs;
    LauncherStuck once it has been for STOPPED_FOR seconds: it would never be ready."""
    if process_state(proc.pid) not in ("T", "t"):
        return None
    now = time.monotonic()
    if since is not None and now - since >= STOPPED_FOR:
        raise LauncherStuck(
            f"launcher pid {proc.pid} is stopped (SIGSTOP?) before its stack was up"
            + resume_hint(proc.pid)
        )
    return since if since is not None else now


def _follow(log: Path, offset: int, on_line: Callable[[str], None]) -> int:
    """Hand each complete line of `log` after `offset` to `on_line`; the new offset."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode(errors="replace").splitlines():
        on_line(line)
    return offset + end


def closure_up(client: RemoteControl) -> bool:
    """An `until` of start_detached: every service the launcher is starting is up (ready, or
    a completed task); ServiceFailed when one of them failed and will not be restarted."""
    status = client.status()
    wanted = set(status["stack"].get("services") or [])
    rows = [s for s in status["services"] if s["name"] in wanted]
    for row in rows:
        if row["state"] == "failed" and row.get("gave_up"):
            name = row["name"]
            said = f"service {name!r} failed: {mask(row.get('reason', ''))}"
            tail = [mask(x) for x in client.logs([name], n=20)[name]["lines"]]
            raise ServiceFailed(name, said, [f"error: {said}", *(f"  {x}" for x in tail)])
    return len(rows) == len(wanted) and all(r["state"] in ("ready", "completed") for r in rows)


def start_detached(
    opts: launcher.Options,
    root: Path,
    log: Path | None,
    timeout: float,
    until: Callable[[RemoteControl], bool] | None = closure_up,
    on_line: Callable[[str], None] | None = None,
    fresh_log: bool = False,
    reserved: Reservation | None = None,
) -> tuple[subprocess.Popen[bytes], RemoteControl]:
    """Start a launcher detached, its output appended to `log` (emptied first with
    `fresh_log`), and wait until `until` holds (default: its stack is up; None: its socket
    answers). LauncherExited says why not, from this run's output alone (its code is 2 for a
    mistake in the profile or the command, 3 for a start that failed); on a timeout the
    launcher is stopped (it stops what it started).

    The state dir's lock is taken here, before the launcher exists, and handed to it: from
    this instant the stack counts as starting (`down` stops it, `clean` refuses, another
    `up` waits). LauncherBusy when another process holds it. `reserved`: the lock, taken already
    (`stack up` takes it before it validates the project)."""
    if log is not None:  # its log keeps its own lines; the services' are in their logs
        opts = dataclasses.replace(opts, service_lines=False)
    assert opts.state_dir is not None
    reserved = reserved or reserve(Path(opts.state_dir), _label(opts), root)
    holding, made = reserved.holding, reserved.made
    try:
        if fresh_log and log is not None:
            log.unlink(missing_ok=True)
        since = log.stat().st_size if log is not None and log.exists() else 0
        argv = launcher.argv(dataclasses.replace(opts, lock_fd=holding.fd))
        proc = _start(argv, root, log, keep=(holding.fd,))
        holding.hand_to(proc.pid)  # the lock names the launcher from its first instant
    except BaseException:
        _unmake(Path(opts.state_dir), made)
        raise
    finally:
        holding.release()  # the launcher holds it now: the very same open file
    try:
        return proc, _wait(proc, Path(opts.state_dir), log, timeout, until, on_line, since)
    except LauncherExited as e:
        if e.code == EXIT_DEFINITION:  # it said why: nothing to keep
            _unmake(Path(opts.state_dir), made)
        raise
    except (TimeoutError, KeyboardInterrupt):  # Ctrl-C while waiting: nothing stays behind
        _stop(proc)
        raise
    except ServiceFailed as e:
        _stop(proc)
        raise LauncherExited(EXIT_STARTUP, e.tail, f"{e}; the stack was stopped") from None


@dataclass
class Reservation:
    """A state dir's lock, taken for a start; `made`: the directory made for it (removed if
    the start is given up before its launcher exists)."""

    holding: lock.Holding
    made: Path | None

    def release(self) -> None:
        """Give up the start (before its launcher exists): nothing made for it stays."""
        _unmake(self.holding.path.parent, self.made)
        self.holding.release()


def reserve(state_dir: Path, label: str | None, root: Path) -> Reservation:
    """Take the lock of `state_dir` (made first, with its marker) for a start: from this
    instant the stack counts as starting. LauncherExited (code 2) when the dir cannot be a
    state dir or its lock file cannot be opened; LauncherBusy when another process holds it."""
    made = _first_missing(state_dir)
    try:  # before its lock and log are made there
        state_dirs.make(state_dir, "stack (detached launcher)", label, root)
    except NotAStateDir as e:
        raise LauncherExited(EXIT_DEFINITION, [f"error: {e}"], str(e)) from None
    if lock.mine(state_dir) is not None:  # this process runs a stack there itself
        raise _busy(StateDirBusy(state_dir, os.getpid()))
    try:
        holding = lock.hold(state_dir)
    except StateDirBusy as e:  # the lock file cannot be opened: not a start to wait for
        raise LauncherExited(EXIT_DEFINITION, [f"error: {e}"], str(e)) from None
    if holding is None:
        raise _busy(StateDirBusy(state_dir, lock.holder_pid(state_dir)))
    return Reservation(holding, made)


def _label(opts: launcher.Options) -> str | None:
    return Path(opts.profile).stem if opts.profile else None


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of `path` that does not exist yet (None if it all does): what
    a launcher that refuses its profile would leave behind, created for it alone."""
    path = path.resolve()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


UNMADE = frozenset({state_dirs.MARKER, lock.NAME, "launcher.log"})
"""What a start that never began writes in its state dir."""


def _unmake(state_dir: Path, made: Path | None) -> None:
    """Undo the directories made for a start that never began: the state dir while it holds
    only what such a start writes, then each empty directory above it up to `made` (rmdir,
    never rmtree: a sibling stack that made its own state dir in a new shared parent, say
    `.stack`, meanwhile keeps it)."""
    state_dir = Path(os.path.realpath(state_dir))
    if made is None or made not in (state_dir, *state_dir.parents):
        return
    with contextlib.suppress(OSError):
        entries = list(os.scandir(state_dir))
        if all(e.name in UNMADE and e.is_file(follow_symlinks=False) for e in entries):
            for e in entries:
                os.unlink(e.path)
    path = state_dir
    while True:
        try:
            path.rmdir()
        except OSError:
            return
        if path == made:
            return
        path = path.parent


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a launcher (it stops what it started); killed if it cannot within STOP_WAIT."""
    proc.terminate()
    try:
        proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:  # a launcher that cannot stop must not outlive us
        proc.kill()
        proc.wait()
