"""Running the real `stack` command under a pseudo-terminal (stdlib pty), its screen rendered
by pyte (a terminal emulator), so a test reads what a person would see."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

import pyte

from .cli_helpers import STACK


def _controlling_tty() -> None:
    """In the child: a session of its own, with the pty as its controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`stack ARGS` on a `cols`x`rows` pseudo-terminal."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        cols: int = 150,
        rows: int = 40,
        env: dict[str, str] | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [STACK, *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**self._environ(), "TERM": "xterm-256color", **(env or {})},
            preexec_fn=_controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _environ() -> dict[str, str]:
        """Ours, less COLUMNS and LINES (pytest's own): the size is the pty's."""
        return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the other side closed
                return
            if not data:
                return
            with self._lock:
                self.raw += data
                self.stream.feed(data)

    def text(self) -> str:
        """The screen as it is now, one line per row."""
        with self._lock:
            return "\n".join(self.screen.display)

    def output(self) -> str:
        """Everything written so far, as text (escape sequences included)."""
        with self._lock:
            return self.raw.decode(errors="replace")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """The screen once it shows all of `texts`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if all(t in screen for t in texts):
                return screen
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} not on the screen:\n{self.text()}\n---\n{self.output()}")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout)
        time.sleep(0.2)  # the last output still in the pty
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
