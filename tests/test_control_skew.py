"""Version skew: a `stack` command of this version against a launcher still running from an
earlier one (whose control.json names no protocol) says so plainly and how to fix it, instead
of "no such endpoint"; `stack down`, the fix, still goes through. No process is started: the
pointer is written as the earlier launcher wrote it, and its requests are refused before any
is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackfixtures._control import endpoint
from stackfixtures._control.remote import RemoteControl
from stackfixtures.errors import ControlError, ProtocolMismatch

from .cli_helpers import run_stack
from .conftest import write_project

EARLIER = {  # control.json as the launcher before the protocol was numbered wrote it
    "pid": 1,
    "create_time": 0.0,
    "start_ticks": None,
    "stack_id": "s1",
    "profile": "dev",
    "root": "/nowhere",
    "started": 0.0,
}


def test_a_launcher_of_an_earlier_protocol_is_named_with_the_fix(tmp_path: Path) -> None:
    pointer = {**EARLIER, "socket": str(tmp_path / "control.sock"), "state_dir": str(tmp_path)}
    (tmp_path / endpoint.POINTER).write_text(json.dumps(pointer))
    found = endpoint.read(tmp_path)
    assert found is not None and found.protocol == 1 != endpoint.PROTOCOL
    control = RemoteControl(found)
    for call in (control.status, lambda: control.stop(["db"]), lambda: control.start(["db"])):
        with pytest.raises(ProtocolMismatch) as info:
            call()
        assert isinstance(info.value, ControlError)  # (what every operating command catches)
        said = str(info.value)
        assert said == (
            f"the stack in {tmp_path} runs a launcher of an earlier stackfixtures (protocol 1); "
            f"this `stack` speaks protocol {endpoint.PROTOCOL}: restart the stack "
            "(stack down && stack up)"
        ), said


def test_a_launcher_names_its_protocol_and_version(tmp_path: Path) -> None:
    sock = endpoint.socket_path(tmp_path)
    endpoint.publish(tmp_path, sock, "s1", "dev", tmp_path)
    found = endpoint.read(tmp_path)
    assert found is not None and found.protocol == endpoint.PROTOCOL and found.version


SLEEPER = """
[services.sleeper]
command = ["sleep", "300"]
"""


@pytest.mark.slow  # starts a stack (tests/spawns.py)
def test_up_exec_and_pytest_beside_another_versions_launcher_say_restart_it(
    tmp_path: Path,
) -> None:
    """A running stack whose launcher speaks another protocol: `stack up`, `stack exec` and a
    plain pytest session each say so and how to fix it (exit 2, a usage error), never a
    traceback, a "template rebuild failed", or a second stack started beside it."""
    write_project(tmp_path, SLEEPER)
    root = tmp_path
    (root / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    assert run_stack(["up", "-p", "dev"], root).returncode == 0
    state_dir = root / ".stack" / "dev"
    pointer = state_dir / endpoint.POINTER
    written = pointer.read_text()
    try:
        pointer.write_text(json.dumps({**json.loads(written), "protocol": endpoint.PROTOCOL + 1}))
        up = run_stack(["up", "-p", "dev"], root)
        exec_ = run_stack(["exec", "-p", "dev", "--", "true"], root)
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "STACKFIXTURES_ATTACH"},
        )
    finally:
        pointer.write_text(written)
        down = run_stack(["down", "-p", "dev"], root)
    fix = "restart the stack (stack down && stack up)"
    for name, done in (("up", up), ("exec", exec_)):
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert fix in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)
        assert "template rebuild" not in done.stderr, (name, done.stderr)
    assert tests.returncode == 4, tests.stdout + tests.stderr  # pytest's usage error
    assert fix in tests.stderr, tests.stderr
    assert down.returncode == 0, down.stderr
