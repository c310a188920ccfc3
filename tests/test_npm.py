"""`stack run` started from package.json scripts: Ctrl-C to npm (a SIGINT to its whole process
group, as a terminal sends it) stops the stack in reverse order, gracefully, with the same exit
code as running `stack` directly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_helpers import STACK
from .conftest import write_project
from .test_cli import TWO

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PACKAGE = {
    "name": "frontend",
    "private": True,
    "scripts": {"backend": "exec stack run --profile dev"},
}


def interrupt_when_ready(argv: list[str], cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("web ") and " ready " in line:  # the ready table's last row
                break
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        lines += proc.stdout.readlines()
        return proc.wait(timeout=60), "".join(lines)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_lines(output: str) -> list[str]:
    """This stack's stop lines (not a sweep's report of some other, crashed stack's leftovers:
    whether there is one depends on what else ran on the machine)."""
    return [
        line.split("  (")[0]
        for line in output.splitlines()
        if line.startswith("[stack]")
        and ("-> stopp" in line or "stopped " in line)
        and "leftover" not in line
    ]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_ctrl_c_through_npm_matches_stack_directly(tmp_path: Path) -> None:
    write_project(tmp_path, TWO)
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    direct_code, direct = interrupt_when_ready([STACK, "run", "--profile", "dev"], tmp_path)
    npm_code, via_npm = interrupt_when_ready(["npm", "run", "backend"], tmp_path)
    assert direct_code == npm_code == 0, via_npm
    assert (
        stop_lines(via_npm)
        == stop_lines(direct)
        == [
            "[stack] web: ready -> stopping",
            "[stack] web: stopping -> stopped",
            "[stack] db: ready -> stopping",
            "[stack] db: stopping -> stopped",
            "[stack] stopped 2 services gracefully",
        ]
    )
    assert via_npm.count("SIGINT: stopping in reverse order") == 1
