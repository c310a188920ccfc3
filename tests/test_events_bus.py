"""Lifecycle events on a bus, end to end: `stack up` with `[stack] events` publishing to a nats
service of the stack whose MQTT listener is on; a nats-py subscriber and a paho-mqtt client
each receive a service's stop and start in order, and at `stack down` its stop before the bus
service stops; a pytest session's stack publishes to an external URL; an unreachable URL
neither blocks nor fails the stack, and status says what was dropped and why."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from .bus_clients import MqttWatch, NatsWatch
from .cli_helpers import run_stack
from .conftest import PY, wait_until, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SLOW_STOP = (
    "import signal, sys, time\n"
    "def bye(*_):\n"
    "    time.sleep(1)\n"  # a stop that takes a while: the bus must still be there after it
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
    "print('api up', flush=True)\n"
    "time.sleep(600)\n"
)
PROFILE = f"""
[stack]
events = {{ nats = "${{bus.url}}" }}

[services.bus]
kind = "nats"
mqtt = true

[services.api]
command = ["{PY}", "-c", {json.dumps(SLOW_STOP)}]
stop = {{ grace = 20 }}
"""
STOP_START = ["api.stopping", "api.stopped", "api.waiting", "api.starting", "api.ready"]


def status(root: Path, profile: str = "dev") -> dict[str, Any]:
    result = run_stack(["status", "-p", profile, "--json"], root)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def states(names: list[str], prefix: str) -> list[str]:
    """`stack.dev.api.ready` -> `api.ready` (and `stack/dev/api/ready` alike)."""
    return [n[len(prefix) :].replace("/", ".") for n in names]


def test_subscribers_get_a_stop_and_a_start_in_order_and_the_stop_at_down(
    tmp_path: Path, pytester: pytest.Pytester
) -> None:
    root = tmp_path / "bus"
    write_project(root, PROFILE)
    started = run_stack(["up", "-p", "dev"], root, timeout=120)
    watches: list[NatsWatch | MqttWatch] = []
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        bus = next(s for s in status(root)["services"] if s["name"] == "bus")["handle"]
        nats, mqtt = NatsWatch(bus["url"]), MqttWatch(bus["mqtt_port"])
        watches += [nats, mqtt]
        assert run_stack(["stop", "-p", "dev", "api"], root).returncode == 0
        assert run_stack(["start", "-p", "dev", "api"], root).returncode == 0
        wait_until(lambda: len(nats.subjects("api")) >= 5 and len(mqtt.topics("api")) >= 5, 30)
        assert states(nats.subjects("api"), "stack.dev.") == STOP_START
        assert states(mqtt.topics("api"), "stack/dev/") == STOP_START
        _, body = nats.received[-1]
        assert body["service"] == "api" and body["from"] == "starting" and body["to"] == "ready"
        assert [b for _, b, _ in mqtt.received][-1] == body  # NATS hands MQTT the same bytes
        assert {qos for _, _, qos in mqtt.received} == {0}  # (core NATS: at most once)

        shown = status(root)["stack"]["events"]
        assert shown["target"] == bus["url"] and shown["subject"] == "stack.dev"
        assert shown["connected"] is True and shown["dropped"] == 0 and shown["queued"] == 0
        assert shown["last_error"] is None
        # every event so far, those from before the bus was ready (its own start) included
        written = (root / ".stack" / "dev" / "events.jsonl").read_text().splitlines()
        assert shown["published"] == len(written) > len(STOP_START)

        session_publishes_to_an_external_url(pytester, bus["url"])

        # the bus restarts (same ports): the publisher connects again, nothing left queued
        assert run_stack(["restart", "-p", "dev", "bus"], root).returncode == 0
        again = next(s for s in status(root)["services"] if s["name"] == "bus")["handle"]
        assert (again["url"], again["mqtt_port"]) == (bus["url"], bus["mqtt_port"])
        for watch in watches:
            watch.close()
        nats, mqtt = NatsWatch(bus["url"]), MqttWatch(bus["mqtt_port"])
        watches[:] = [nats, mqtt]
        wait_until(lambda: (e := status(root)["stack"]["events"])["connected"] and not e["queued"])

        assert run_stack(["down", "-p", "dev"], root, timeout=120).returncode == 0
        # api takes a second to stop; the bus service stops only once its events are out
        wait_until(lambda: "api.stopped" in states(nats.subjects("api"), "stack.dev."), 30)
        assert states(nats.subjects("api"), "stack.dev.") == ["api.stopping", "api.stopped"]
        assert states(mqtt.topics("api"), "stack/dev/") == ["api.stopping", "api.stopped"]
        log = (root / ".stack" / "dev" / "launcher.log").read_text()
        assert "not published" not in log  # (only the bus's own stop could not be)
    finally:
        for watch in watches:
            watch.close()
        run_stack(["down", "-p", "dev"], root, timeout=120)


def session_publishes_to_an_external_url(pytester: pytest.Pytester, url: str) -> None:
    """A pytest session's own stack (no launcher) publishes too: here to the bus of the stack
    above, as an external URL, under a subject prefix of its own."""
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "sess.toml").write_text(
        f'[stack]\nevents = {{ nats = "{url}", subject = "ci" }}\n\n'
        f'[services.web]\ncommand = ["{PY}", "-c", "import time; time.sleep(600)"]\n'
    )
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(test_web="def test_web(web):\n    assert web.pid\n")
    watch = NatsWatch(url, "ci.>")
    try:
        result = pytester.runpytest_subprocess("--stack-profile", "sess", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        wanted = ["web.waiting", "web.starting", "web.ready", "web.stopping", "web.stopped"]
        wait_until(lambda: len(watch.subjects("web")) >= 5, 30)
        assert states(watch.subjects("web"), "ci.sess.") == wanted
    finally:
        watch.close()


def test_an_unreachable_bus_blocks_nothing_and_status_says_why(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_project(
        tmp_path,
        f'[stack]\nevents = {{ nats = "nats://127.0.0.1:{port}", queue = 2 }}\n\n'
        f'[services.api]\ncommand = ["{PY}", "-c", "import time; time.sleep(600)"]\n',
    )
    started = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert status(tmp_path)["services"][0]["state"] == "ready"
        wait_until(lambda: status(tmp_path)["stack"]["events"]["last_error"] is not None, 30)
        shown = status(tmp_path)["stack"]["events"]
        assert shown["connected"] is False and shown["published"] == 0
        assert f"cannot connect to nats://127.0.0.1:{port}" in shown["last_error"]
        assert shown["queued"] == 2 and shown["dropped"] >= 1  # waiting, starting, ready: 3
        said = run_stack(["status", "-p", "dev"], tmp_path).stdout.splitlines()[-1]
        assert said.startswith(f"events: stack.dev.* on nats://127.0.0.1:{port}: 0 published, ")
        assert said.endswith(")") and "not connected (cannot connect to" in said
    finally:
        stopped = run_stack(["down", "-p", "dev"], tmp_path, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "gracefully" in stopped.stdout + stopped.stderr
    log = (tmp_path / ".stack" / "dev" / "launcher.log").read_text()
    assert f"event(s) not published to nats://127.0.0.1:{port}" in log
