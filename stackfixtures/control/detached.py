"""Starting a launcher detached (`launcher.argv(...)`), and waiting until its control socket
answers: what `stack up`, the shutdown benchmark and the pytest workers' shared stack all do."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .endpoint import find
from .remote import RemoteControl


class LauncherExited(Exception):
    """The launcher stopped before it was ready; `tail` is the end of its output."""

    def __init__(self, code: int | None, log: Path) -> None:
        self.code = code
        self.log = log
        self.tail = log.read_text().splitlines()[-30:] if log.exists() else []
        super().__init__(f"the launcher exited with code {code}; see {log}")


def start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start it in a session of its own (no terminal signals), its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1"},
        )


def wait(
    proc: subprocess.Popen[bytes],
    state_dir: Path,
    log: Path,
    timeout: float,
    until: Callable[[RemoteControl], bool] | None = None,
) -> RemoteControl:
    """A client for the launcher once its socket answers (and `until(client)` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LauncherExited(proc.returncode, log)
        ep, _ = find(state_dir)
        if ep is not None:
            client = RemoteControl(ep)
            if until is None or until(client):
                return client
            client.close()
        time.sleep(0.05)
    raise TimeoutError(f"the launcher was not ready within {timeout:g}s; see {log}")


def all_ready(names: Iterable[str]) -> Callable[[RemoteControl], bool]:
    """A `wait(until=...)` condition: every one of `names` is READY."""
    wanted = set(names)

    def check(client: RemoteControl) -> bool:
        states = {s["name"]: s["state"] for s in client.status()["services"] if s["name"] in wanted}
        return len(states) == len(wanted) and all(v == "ready" for v in states.values())

    return check
