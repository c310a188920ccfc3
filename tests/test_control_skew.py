"""Version skew: a `stack` command of this version against a launcher still running from an
earlier one (whose control.json names no protocol) says so plainly and how to fix it, instead
of "no such endpoint"; `stack down`, the fix, still goes through. No process is started: the
pointer is written as the earlier launcher wrote it, and its requests are refused before any
is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackfixtures._control import endpoint
from stackfixtures._control.remote import RemoteControl
from stackfixtures.errors import ControlError

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
        with pytest.raises(ControlError) as info:
            call()
        said = str(info.value)
        assert said == (
            f"the stack in {tmp_path} runs an earlier stackfixtures's launcher (protocol 1); "
            f"this `stack` speaks protocol {endpoint.PROTOCOL}: restart the stack "
            "(stack down && stack up)"
        ), said


def test_a_launcher_names_its_protocol_and_version(tmp_path: Path) -> None:
    sock = endpoint.socket_path(tmp_path)
    endpoint.publish(tmp_path, sock, "s1", "dev", tmp_path)
    found = endpoint.read(tmp_path)
    assert found is not None and found.protocol == endpoint.PROTOCOL and found.version
