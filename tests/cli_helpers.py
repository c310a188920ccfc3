"""Driving the real `stack` command as a subprocess, reading its output as it comes."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STACK = shutil.which("stack", path=os.path.dirname(sys.executable)) or "stack"


class Output:
    """A running command's output lines (stdout with stderr), read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._pos = 0  # wait_for looks only after the line it matched last
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, text: str, timeout: float = 60.0, start: bool = False) -> str:
        """The next line (after the last one matched) that contains `text` (starts with it,
        with `start`)."""

        def hit(line: str) -> bool:
            return line.startswith(text) if start else text in line

        deadline = time.monotonic() + timeout
        for i in range(self._pos, len(self.lines)):
            if hit(self.lines[i]):
                self._pos = i + 1
                return self.lines[i]
        self._pos = len(self.lines)
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            self._pos = len(self.lines)
            if hit(line):
                return line
        raise AssertionError(f"{text!r} not seen; output so far:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the command to exit; its code (the rest of its output is read too)."""
        code = self.proc.wait(timeout)
        while True:
            try:
                line = self._q.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class StackProcess(Output):
    """The real `stack` command, in a process group of its own."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(
            subprocess.Popen(
                [STACK, *args],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        )

    def signal(self, sig: int = signal.SIGINT) -> None:
        self.proc.send_signal(sig)


def run_stack(
    args: list[str], cwd: Path, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STACK, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
