"""The real `stack` command, run as a client of a stack by a benchmark, each answer timed.

Every command runs in a process group of its own and is given a bound: past it, the group is
killed and the answer counts as late. What a benchmark wants to know is in `Answer`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .._engine.cleanup import reaper


@dataclass
class Answer:
    """One client command: what it was, how long it took to answer, and what it said."""

    command: str
    seconds: float
    exit_code: int | None  # None: it did not answer within its bound (then it was killed)
    bound: float
    output: str = ""

    @property
    def in_time(self) -> bool:
        return self.exit_code is not None

    def why(self, lines: int = 12) -> str:
        """What it said when it failed: from its first `error:` line, else its last lines."""
        said = self.output.splitlines()
        first = next((i for i, line in enumerate(said) if line.startswith("error: ")), None)
        return "\n".join(said[first : first + lines] if first is not None else said[-lines:])


class Running:
    """A client command started in the background (e.g. `down` while a fault is injected).
    A thread collects its output and notes the moment it exits: its answer time is when it
    answered, not when the bench got round to looking."""

    def __init__(self, command: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.command = command
        self.t0 = time.monotonic()
        self.ended: float | None = None
        self._out = b""
        self._done = threading.Event()
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its group is killed past the bound, and only its group
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        out, _ = self.proc.communicate()
        self._out = out or b""
        self.ended = time.monotonic()
        self._done.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, seconds: float) -> bool:
        """Whether it has answered within `seconds`."""
        return self._done.wait(max(0.0, seconds))

    def finish(self, bound: float) -> Answer:
        """Its answer, waited for up to `bound` seconds after it started (then its group is
        killed, and it counts as late)."""
        code: int | None = None
        if self.wait(bound - (time.monotonic() - self.t0)):
            code = self.proc.returncode
        else:
            self.kill()
        seconds = round((self.ended or time.monotonic()) - self.t0, 3)
        if seconds > bound:
            code = None  # it answered, but past its bound
        text = self._out.decode(errors="replace")[-20000:]
        return Answer(self.command, seconds, code, bound, text)

    def kill(self) -> None:
        if self.proc.poll() is None:
            reaper.kill_group(self.proc.pid, signal.SIGKILL)
        self._done.wait(10)


class Clients:
    """`stack COMMAND --profile P --state-dir DIR ...`, for one project, every answer kept."""

    def __init__(self, root: Path, profile: str | None, env: dict[str, str]) -> None:
        self.root = root
        self.profile = profile
        self.env = {**os.environ, **env, "NO_COLOR": "1"}
        self.answers: list[Answer] = []
        self._running: list[Running] = []

    def argv(self, state_dir: Path, *args: str) -> list[str]:
        profile = ["--profile", self.profile] if self.profile else []
        return [
            sys.executable,
            "-m",
            "stackfixtures.cli",
            args[0],
            *profile,
            "--state-dir",
            str(state_dir),
            *args[1:],
        ]

    def start(self, state_dir: Path, *args: str) -> Running:
        running = Running(" ".join(args), self.argv(state_dir, *args), self.root, self.env)
        self._running.append(running)
        return running

    def finish(self, running: Running, bound: float) -> Answer:
        answer = running.finish(bound)
        self.answers.append(answer)
        return answer

    def run(self, state_dir: Path, *args: str, bound: float) -> Answer:
        return self.finish(self.start(state_dir, *args), bound)

    def kill_all(self) -> None:
        """Every client command still running (only ours, by their groups)."""
        for running in self._running:
            running.kill()
        self._running.clear()
