"""Starting a launcher detached (`launcher.argv(...)`), and waiting until its control socket
answers: what `stack up`, the shutdown benchmark and the pytest workers' shared stack all do."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ControlError
from . import launcher
from .endpoint import find
from .remote import RemoteControl, TransportError


class LauncherExited(Exception):
    """The launcher stopped before it was ready; `tail` is the end of its output."""

    def __init__(self, code: int | None, log: Path | None) -> None:
        self.code = code
        self.log = log
        lines = log.read_text().splitlines() if log and log.exists() else []
        errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
        self.tail = lines[errors[-1] :] if errors else lines[-30:]  # the error and its log tail
        where = f"; see {log}" if log else ""
        super().__init__(f"the launcher exited with code {code}{where}")


def start(argv: list[str], cwd: Path, log: Path | None) -> subprocess.Popen[bytes]:
    """Start it in a session of its own (no terminal signals), its output appended to `log`
    (None: to our own output, e.g. `stack exec --logs`)."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") if log is not None else contextlib.nullcontext() as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out if out is not None else None,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
        )


def wait(
    proc: subprocess.Popen[bytes],
    state_dir: Path,
    log: Path | None,
    timeout: float,
    until: Callable[[RemoteControl], bool] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> RemoteControl:
    """A client for the launcher once its socket answers and `until(client)` holds. Waits on
    the stack's events (a long poll), so readiness is seen as soon as it happens. `on_line`
    is given each new line of the launcher's log meanwhile (e.g. its progress lines)."""
    deadline = time.monotonic() + timeout
    client: RemoteControl | None = None
    seen = 0
    read = 0
    while time.monotonic() < deadline:
        if on_line is not None and log is not None:
            read = _follow(log, read, on_line)
        if proc.poll() is not None:
            if client is not None:
                client.close()
            raise LauncherExited(proc.returncode, log)
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
    if client is not None:
        client.close()
    raise TimeoutError(f"the launcher was not ready within {timeout:g}s; see {log}")


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


def all_ready(names: Iterable[str]) -> Callable[[RemoteControl], bool]:
    """A `wait(until=...)` condition: every one of `names` is up (ready, or a completed task)."""
    wanted = set(names)

    def check(client: RemoteControl) -> bool:
        states = {s["name"]: s["state"] for s in client.status()["services"] if s["name"] in wanted}
        return len(states) == len(wanted) and all(
            v in ("ready", "completed") for v in states.values()
        )

    return check


def closure_up(client: RemoteControl) -> bool:
    """A `wait(until=...)` condition: every service the launcher is starting is up (the
    launcher says which in its status: the caller need not load the project to know)."""
    status = client.status()
    return all_ready(status["stack"].get("services") or [])(client)


def launch(
    opts: launcher.Options, root: Path, log: Path | None, timeout: float
) -> tuple[subprocess.Popen[bytes], RemoteControl]:
    """Start a launcher detached and wait until its stack is up. LauncherExited says why not
    (its code is 2 for a mistake in the profile or the command, 3 for a start that failed)."""
    assert opts.state_dir is not None
    state = Path(opts.state_dir)
    proc = start(launcher.argv(opts), root, log)
    try:
        return proc, wait(proc, state, log, timeout, until=closure_up)
    except TimeoutError:
        proc.terminate()  # the launcher stops what it started
        proc.wait()
        raise
