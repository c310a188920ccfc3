"""Operating a running stack through the real CLI: up, status, restart, scale, kill, pause,
logs, events, metrics, down; the control socket is private and nothing listens on TCP."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from stackfixtures._control.endpoint import read

from .cli_helpers import run_stack
from .conftest import write_project
from .trust_helpers import alive

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

OPS = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
restart = { policy = "on-failure", backoff = "fixed", delay = 0.1 }
liveness = { http = "/health", period = 0.2, timeout = 0.3, failure_threshold = 2 }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = { db = "restart" }
ready = { http = "http://127.0.0.1:${port}/health" }

[services.worker]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = { db = "ignore" }
ready = { tcp = "${port}" }
replicas = 1
"""


def stack(root: Path, *args: str, profile: str = "ops") -> Any:
    result = run_stack([*args, "--profile", profile], root, timeout=120)
    return result


def status(root: Path, profile: str = "ops") -> dict[str, Any]:
    result = stack(root, "status", "--json", profile=profile)
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def wait_state(root: Path, name: str, state: str, profile: str = "ops") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        services = status(root, profile)
        if services[name]["state"] == state:
            return services
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {state}: {services[name]}")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Path]:
    write_project(tmp_path, OPS, name="ops")
    result = stack(tmp_path, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    yield tmp_path
    stack(tmp_path, "down")


def test_up_status_restart_scale_down(up: Path) -> None:
    root = up
    services = status(root)
    assert {n: s["state"] for n, s in services.items()} == {
        "db": "ready",
        "web": "ready",
        "worker": "ready",
    }
    assert all(
        s["pid"] and s["endpoint"].startswith("http://127.0.0.1:") for s in services.values()
    )
    keys = {
        "name",
        "state",
        "pid",
        "endpoint",
        "uptime_s",
        "restarts",
        "health",
        "rss_mb",
        "cpu_percent",
    }
    assert all(keys <= set(s) for s in services.values())

    # restart one: its pid changes; web (restart edge) follows, worker (ignore edge) does not
    reply = stack(root, "restart", "db", "--json")
    assert reply.returncode == 0, reply.stderr
    after = wait_state(root, "web", "ready")
    assert after["db"]["pid"] != services["db"]["pid"] and after["db"]["restarts"] == 1
    assert after["web"]["pid"] != services["web"]["pid"]
    assert after["worker"]["pid"] == services["worker"]["pid"]

    # scale a worker to 3, each with its own port
    scaled = stack(root, "scale", "worker=3", "--json")
    assert scaled.returncode == 0, scaled.stderr
    now = status(root)
    workers = [s for n, s in now.items() if n.split(".")[0] == "worker"]
    assert len(workers) == 3 and all(w["state"] == "ready" for w in workers)
    assert len({w["endpoint"] for w in workers}) == 3
    assert now["worker"]["replicas"] == 3
    pids = [s["pid"] for s in now.values()]

    # the socket is private, and the launcher listens on no TCP port
    ep = read(root / ".stack" / "ops")
    assert ep is not None
    assert stat.S_IMODE(ep.socket.stat().st_mode) == 0o600
    launcher = psutil.Process(ep.pid)
    assert [c for c in launcher.net_connections(kind="inet") if c.status == "LISTEN"] == []

    down = stack(root, "down")
    assert down.returncode == 0 and "gracefully" in down.stdout
    assert not any(alive(p) for p in [*pids, ep.pid])  # (a zombie launcher has ended)
    assert not ep.socket.exists()
    gone = stack(root, "status")
    assert gone.returncode == 4 and "no stack is running" in gone.stderr


def test_fault_injection_from_the_cli(up: Path) -> None:
    root = up
    before = status(root)
    killed = stack(root, "kill", "db", "--signal", "SIGKILL")
    assert killed.returncode == 0 and str(before["db"]["pid"]) in killed.stdout
    after = wait_state(root, "web", "ready")
    assert after["db"]["state"] == "ready" and after["db"]["pid"] != before["db"]["pid"]
    assert stack(root, "pause", "db").returncode == 0
    wait_state(root, "db", "degraded")
    assert stack(root, "resume", "db").returncode == 0
    wait_state(root, "db", "ready")
    events = stack(root, "events", "--json")
    moves = [(e["service"], e["to"]) for e in map(json.loads, events.stdout.splitlines())]
    assert ("db", "failed") in moves and ("db", "degraded") in moves and ("db", "backoff") in moves
    logs = stack(root, "logs", "db", "-n", "5")
    assert logs.returncode == 0 and logs.stdout.count("db |") == 5
    metrics = stack(root, "metrics")
    assert 'stackfixtures_service_up{service="web"' in metrics.stdout
    # several services in one request each way (the protocol takes a list)
    stopped = stack(root, "stop", "web", "worker", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert sorted(json.loads(stopped.stdout)["stopped"]) == ["web", "worker"]
    assert {status(root)[n]["state"] for n in ("web", "worker")} == {"stopped"}
    started = stack(root, "start", "web", "worker", "--json")
    assert started.returncode == 0, started.stderr
    reply = json.loads(started.stdout)
    assert reply["states"] == {"web": "ready", "worker": "ready"}, reply
    assert set(reply["handles"]) >= {"web", "worker"}
    assert stack(root, "stop").returncode == 2  # (SERVICE... is required: a usage error)


def test_two_stacks_run_side_by_side(tmp_path: Path) -> None:
    write_project(tmp_path, OPS, name="ops")
    write_project(tmp_path, OPS, name="other")
    try:
        assert stack(tmp_path, "up").returncode == 0
        assert stack(tmp_path, "up", profile="other").returncode == 0
        a, b = status(tmp_path), status(tmp_path, "other")
        assert a["db"]["pid"] != b["db"]["pid"] and a["db"]["endpoint"] != b["db"]["endpoint"]
        assert stack(tmp_path, "stop", "web", profile="other").returncode == 0
        assert status(tmp_path, "other")["web"]["state"] == "stopped"
        assert status(tmp_path)["web"]["state"] == "ready"
    finally:
        stack(tmp_path, "down")
        stack(tmp_path, "down", profile="other")


def test_stale_socket_of_a_killed_launcher_is_detected_and_removed(tmp_path: Path) -> None:
    write_project(tmp_path, OPS, name="ops")
    assert stack(tmp_path, "up").returncode == 0
    ep = read(tmp_path / ".stack" / "ops")
    assert ep is not None
    children = [p.pid for p in psutil.Process(ep.pid).children()]
    os.kill(ep.pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(p) for p in children if psutil.pid_exists(p)], timeout=5)
    result = stack(tmp_path, "status")
    assert result.returncode == 4 and "stale control socket" in result.stderr
    assert not ep.socket.exists() and read(tmp_path / ".stack" / "ops") is None


def test_graph_and_init(tmp_path: Path) -> None:
    write_project(tmp_path, OPS, name="ops")
    text = stack(tmp_path, "graph")
    assert "web [command] <- db (restart)" in text.stdout
    assert "worker [command] <- db (ignore)" in text.stdout
    mermaid = stack(tmp_path, "graph", "--format", "mermaid")
    assert "web -->|restart| db" in mermaid.stdout
    dot = stack(tmp_path, "graph", "--format", "dot")
    assert '"web" -> "db" [label="restart"];' in dot.stdout
    init = run_stack(["init", "starter"], tmp_path)
    assert init.returncode == 0
    valid = run_stack(["validate", "--profile", "starter"], tmp_path)
    assert valid.returncode == 0, valid.stderr
    again = run_stack(["init", "starter"], tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr


TOML_ONLY = """
[stack]
modules = []

[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["db"]
ready = { tcp = "${port}" }
"""


def test_operating_commands_find_the_stack_and_never_import_user_code(tmp_path: Path) -> None:
    write_project(tmp_path, TOML_ONLY, name="dev")
    (tmp_path / "conftest.py").write_text("import not_installed_anywhere\n")
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        status = run_stack(["status"], tmp_path)  # no -p: the one stack running here
        assert status.returncode == 0, status.stderr
        assert "profile dev" in status.stdout and "web" in status.stdout
        logs = run_stack(["logs", "-n", "5"], tmp_path)
        assert logs.returncode == 0, logs.stderr
        assert "db  |" in logs.stdout and "not_installed_anywhere" not in logs.stdout + logs.stderr
        assert run_stack(["restart", "web"], tmp_path).returncode == 0
    finally:
        down = run_stack(["down"], tmp_path)
    assert down.returncode == 0 and "gracefully" in down.stdout, down.stdout + down.stderr
    gone = run_stack(["status"], tmp_path)
    assert gone.returncode == 4 and "no stack is running" in gone.stderr
    # its logs stay readable, as `compose logs` of stopped containers
    after = run_stack(["logs", "-n", "5"], tmp_path)
    assert after.returncode == 0, after.stderr
    assert f"not running: the last run's logs, in {tmp_path / '.stack' / 'dev' / 'logs'}" in (
        after.stderr
    )
    assert "db  |" in after.stdout and "web |" in after.stdout
    web = run_stack(["logs", "web", "-n", "2"], tmp_path)
    assert web.stdout.count("web |") == 2 and "db  |" not in web.stdout


def test_several_stacks_running_are_listed_and_one_is_chosen(tmp_path: Path) -> None:
    write_project(tmp_path, TOML_ONLY, name="dev")
    write_project(tmp_path, TOML_ONLY, name="other")
    try:
        assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
        assert run_stack(["up", "-p", "other"], tmp_path).returncode == 0
        which = run_stack(["status"], tmp_path)
        assert which.returncode == 2
        assert "2 stacks are running" in which.stderr
        assert "profile dev" in which.stderr and "profile other" in which.stderr
        chosen = run_stack(["status", "--json"], tmp_path, env={"STACK_PROFILE": "other"})
        assert chosen.returncode == 0 and json.loads(chosen.stdout)["stack"]["profile"] == "other"
    finally:
        run_stack(["down", "-p", "dev"], tmp_path)
        run_stack(["down", "-p", "other"], tmp_path)
