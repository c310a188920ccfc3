"""Starting a launcher (`stack run`) detached, and waiting until its control socket answers:
what `stack up`, the shutdown benchmark and the pytest workers' shared stack all do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .client import ControlClient
from .endpoint import find


class LauncherExited(Exception):
    """The launcher stopped before it was ready; `tail` is the end of its output."""

    def __init__(self, code: int | None, log: Path) -> None:
        self.code = code
        self.log = log
        self.tail = log.read_text().splitlines()[-30:] if log.exists() else []
        super().__init__(f"the launcher exited with code {code}; see {log}")


def launcher_argv(
    state_dir: Path,
    profile: str | Path | None,
    *,
    mode: str | None = None,
    services: Iterable[str] = (),
    on_demand: bool = False,
    exit_with: int | None = None,
) -> list[str]:
    argv = [sys.executable, "-m", "stackfixtures.cli", "run", "--state-dir", str(state_dir)]
    if profile:
        argv += ["--profile", str(profile)]
    if mode:
        argv += ["--mode", mode]
    if on_demand:
        argv.append("--on-demand")
    if exit_with:
        argv += ["--exit-with", str(exit_with)]
    return [*argv, *services]


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
    until: Callable[[ControlClient], bool] | None = None,
) -> ControlClient:
    """A client for the launcher once its socket answers (and `until(client)` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LauncherExited(proc.returncode, log)
        ep, _ = find(state_dir)
        if ep is not None:
            client = ControlClient(ep)
            if until is None or until(client):
                return client
            client.close()
        time.sleep(0.05)
    raise TimeoutError(f"the launcher was not ready within {timeout:g}s; see {log}")


def all_ready(names: Iterable[str]) -> Callable[[ControlClient], bool]:
    """A `wait(until=...)` condition: every one of `names` is READY."""
    wanted = set(names)

    def check(client: ControlClient) -> bool:
        states = {
            s["name"]: s["state"] for s in client.get("/status")["services"] if s["name"] in wanted
        }
        return len(states) == len(wanted) and all(v == "ready" for v in states.values())

    return check
