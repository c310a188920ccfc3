"""Signals as a terminal and as a supervisor send them to `stack exec`: a terminal's Ctrl-C
reaches the command once (it is in the terminal's foreground group); SIGINT or SIGTERM sent to
exec alone (`timeout -s INT`, a supervisor) is passed on to the command, the stack exec started
is stopped, and exec exits 130 or 143."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

from stackfixtures._control.endpoint import read

from .cli_helpers import STACK
from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.worker]
command = ["sleep", "60"]
"""

COMMAND = textwrap.dedent(
    """
    import signal, sys, time
    def stop(signo, _):
        print("command got", signal.Signals(signo).name, flush=True)
        sys.exit(5)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print("command running", flush=True)
    time.sleep(60)
    """
)


def _exec(tmp_path: Path, **kwargs: object) -> subprocess.Popen[str]:
    write_project(tmp_path, PROFILE)
    return subprocess.Popen(
        [STACK, "exec", "-p", "dev", "--", sys.executable, "-c", COMMAND],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: what we send reaches exec alone
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_exec_alone_reaches_the_command_and_stops_the_stack(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    proc = _exec(tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "command running"
        os.kill(proc.pid, sig)  # exec alone, as `timeout -s INT` or a supervisor does
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == code
        assert out.splitlines() == [f"command got {sig.name}"]
        assert read(tmp_path / ".stack" / "dev") is None  # the stack exec started is down
    finally:
        if proc.poll() is None:  # the test failed before exec ended: its group, by pid
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _controlling_terminal() -> None:
    """In the child (a new session): stdin, a pty's slave, becomes its controlling terminal,
    with the child's group in its foreground, as a shell's job at a terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_c_at_a_terminal_reaches_the_command_once_then_the_stack_stops(
    tmp_path: Path,
) -> None:
    """The terminal sends SIGINT to its whole foreground group: exec must not send it again
    (a second SIGINT would interrupt the command's own clean-up); exec returns its code."""
    master, slave = pty.openpty()
    proc = _exec(tmp_path, stdin=slave, preexec_fn=_controlling_terminal)
    os.close(slave)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "command running"
        os.write(master, b"\x03")  # Ctrl-C, typed at the terminal
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 5
        assert out.splitlines() == ["command got SIGINT"]
        assert read(tmp_path / ".stack" / "dev") is None
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
