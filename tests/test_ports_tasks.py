"""Ports you can rely on (remembered, fixed, checked, never answered by a stranger), tasks that
run to completion, --exit-code-from, an `up` that tells the truth, and cleaning up data."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackfixtures._control.endpoint import read
from stackfixtures._engine.ports import allocate_port

from .cli_helpers import run_stack
from .conftest import APPS, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SERVER = """
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
"""


def status(root: Path) -> dict[str, dict[str, object]]:
    result = run_stack(["status", "--json"], root)
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


@pytest.fixture
def held_port() -> Iterator[tuple[int, int]]:
    """A port held by a tiny server of the test's own: (port, holder pid)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1], os.getpid()


def test_a_service_keeps_its_port_from_one_run_to_the_next(tmp_path: Path) -> None:
    write_project(tmp_path, SERVER)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    first = status(tmp_path)["web"]["endpoint"]
    assert run_stack(["down"], tmp_path).returncode == 0
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        assert status(tmp_path)["web"]["endpoint"] == first
    finally:
        run_stack(["down"], tmp_path)


def test_port_is_fixed_for_any_kind(tmp_path: Path) -> None:
    port = allocate_port()
    write_project(tmp_path, f"[services.cache]\nkind = 'redis'\nport = {port}\n")
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        assert status(tmp_path)["cache"]["handle"]["port"] == port
    finally:
        run_stack(["down"], tmp_path)


def test_a_fixed_port_held_by_another_process_fails_at_once_naming_it(
    tmp_path: Path, held_port: tuple[int, int]
) -> None:
    port, holder = held_port
    write_project(
        tmp_path,
        f"""
[stack]
start_timeout = 300

[services.cache]
kind = "redis"
port = {port}
""",
    )
    result = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"port {port} is already in use by pid {holder} (python" in result.stderr
    assert read(tmp_path / ".stack" / "dev") is None  # no launcher left behind
    again = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    assert "already runs" not in again.stderr and again.returncode == 3


def test_a_fixed_port_held_by_another_stack_says_so_and_how_to_share_it(tmp_path: Path) -> None:
    """`stack up -p dev`, then a second stack on the same pinned port (here `up -p ci`; plain
    pytest is the common case): the error names the other stack's service and the ways out."""
    port = allocate_port()
    write_project(tmp_path, f"[services.cache]\nkind = 'redis'\nport = {port}\n", "dev")
    write_project(tmp_path, f"[services.other]\nkind = 'redis'\nport = {port}\n", "ci")
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        result = run_stack(["up", "-p", "ci"], tmp_path, timeout=120)
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"port {port} is already in use by pid " in result.stderr
        where = tmp_path / ".stack" / "dev"
        assert (
            f"service 'cache' of the stack in {where}: stop that stack (`stack down --state-dir "
            f"{where}`), or run under it (`stack exec --state-dir {where} -- pytest`)"
        ) in result.stderr
        assert "stop that process" not in result.stderr
    finally:
        run_stack(["down", "-p", "dev"], tmp_path)


def test_two_services_of_one_stack_on_one_port_are_told_apart(tmp_path: Path) -> None:
    port = allocate_port()
    write_project(
        tmp_path,
        f"[services.a]\nkind = 'redis'\nport = {port}\n"
        f"[services.b]\nkind = 'redis'\nport = {port}\ndepends_on = ['a']\n",
    )
    result = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "service 'a' of this stack: give each its own port" in result.stderr
    assert read(tmp_path / ".stack" / "dev") is None


def test_a_probe_answered_by_a_stranger_never_marks_a_service_ready(tmp_path: Path) -> None:
    pidfile = tmp_path / "stranger.pid"
    write_project(
        tmp_path,
        f"""
[services.fake]
command = ["{{PY}}", "{APPS / "foreign_listener.py"}", "--port", "${{port}}",
           "--pidfile", "{pidfile}"]
ready = {{ tcp = "${{port}}" }}
""",
    )
    try:
        result = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
        stranger = int(pidfile.read_text())
        assert result.returncode == 3, result.stdout + result.stderr
        assert "answered on port" in result.stderr and f"by pid {stranger}" in result.stderr
        assert "not one of this service's processes" in result.stderr
    finally:  # (the launcher, a subreaper, stopped it already as an orphan of its service)
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)


TASKS = """
[services.migrate]
command = ["{PY}", "-c", '''
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text('v2')
print("migrated")''', "${root}/schema"]
task = true

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["migrate"]
ready = { http = "http://127.0.0.1:${port}/health" }
"""


def test_a_task_gates_its_dependent_and_is_completed_not_failed(tmp_path: Path) -> None:
    write_project(tmp_path, TASKS)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        assert (tmp_path / "schema").read_text() == "v2"  # the task ran before web started
        services = status(tmp_path)
        assert services["migrate"]["state"] == "completed"
        assert services["migrate"]["last_exit_code"] == 0 and services["migrate"]["pid"] is None
        assert services["web"]["state"] == "ready"
        events = run_stack(["events", "--json"], tmp_path).stdout
        moves = [(e["service"], e["to"]) for e in map(json.loads, events.splitlines())]
        assert moves.index(("migrate", "completed")) < moves.index(("web", "starting"))
        assert ("migrate", "failed") not in moves
    finally:
        run_stack(["down"], tmp_path)


def test_a_failing_task_fails_its_dependents_with_its_log_tail(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.migrate]
command = ["{PY}", "-c", "import sys; print('bad migration'); sys.exit(5)"]
task = true

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["migrate"]
""",
    )
    result = run_stack(["run", "-p", "dev"], tmp_path, timeout=120)
    assert result.returncode == 3
    out = result.stdout
    assert "migrate: starting -> failed  (python exited with code 5)" in out  # named, its code
    assert "web: waiting -> failed  (service 'web' (waiting): dependency 'migrate' failed" in out
    error = out[out.index("error: service 'migrate' (starting): python exited with code 5") :]
    assert "\n  | bad migration\n" in error  # its log tail, under the error (not only its output)


def test_a_task_that_never_exits_says_it_is_a_task(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.hang]
command = ["{PY}", "-c", "import time; time.sleep(60)"]
task = true
start_timeout = 0.5
""",
    )
    result = run_stack(["run", "-p", "dev"], tmp_path, timeout=120)
    assert result.returncode == 3
    assert "a task: it did not finish within its start timeout of 0.5s" in result.stdout


@pytest.mark.parametrize("code", [0, 7])
def test_exit_code_from_a_test_suite_run_in_the_stack(tmp_path: Path, code: int) -> None:
    write_project(
        tmp_path,
        SERVER
        + f"""
[services.tests]
command = ["{{PY}}", "-c", '''
import sys, urllib.request
urllib.request.urlopen(sys.argv[1])
sys.exit({code})''', "${{web.url}}/health"]
depends_on = ["web"]
task = true
""",
    )
    result = run_stack(["run", "-p", "dev", "--exit-code-from", "tests"], tmp_path, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert f"tests ended with code {code}: stopping" in result.stdout
    assert "stopped" in result.stdout


def test_up_twice_is_no_error_and_restarts_what_changed(tmp_path: Path) -> None:
    path = write_project(tmp_path, SERVER)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        pid = status(tmp_path)["web"]["pid"]
        again = run_stack(["up", "-p", "dev"], tmp_path)
        assert again.returncode == 0 and "already up, with the same configuration" in again.stdout
        assert status(tmp_path)["web"]["pid"] == pid
        path.write_text(path.read_text() + 'env = { GREETING = "hello" }\n')
        changed = run_stack(["up", "-p", "dev"], tmp_path)
        assert changed.returncode == 0 and "changed: web; restarted: web" in changed.stdout
        assert status(tmp_path)["web"]["pid"] != pid
    finally:
        run_stack(["down"], tmp_path)


def test_down_volumes_and_clean_remove_the_data(tmp_path: Path) -> None:
    write_project(tmp_path, "[services.db]\nkind = 'postgres'\nsource = 'wheel'\n")
    assert run_stack(["up", "-p", "dev"], tmp_path, timeout=120).returncode == 0
    data = Path(status(tmp_path)["db"]["handle"]["data_dir"]).resolve()
    assert data.is_dir()
    down = run_stack(["down", "--volumes"], tmp_path, timeout=120)
    assert down.returncode == 0 and "freed" in down.stdout, down.stdout + down.stderr
    assert not data.exists() and not (tmp_path / ".stack" / "dev").exists()
    assert run_stack(["up", "-p", "dev"], tmp_path, timeout=120).returncode == 0
    assert run_stack(["down"], tmp_path, timeout=120).returncode == 0
    cleaned = run_stack(["clean", "--all"], tmp_path)
    assert cleaned.returncode == 0 and "removed" in cleaned.stdout
    assert not (tmp_path / ".stack" / "dev").exists()


def test_clean_refuses_a_running_stack(tmp_path: Path) -> None:
    write_project(tmp_path, SERVER)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        refused = run_stack(["clean", "-p", "dev"], tmp_path)
        assert refused.returncode == 1 and "is running" in refused.stderr
        assert (tmp_path / ".stack" / "dev").is_dir()
    finally:
        run_stack(["down"], tmp_path)


def test_exit_code_from_a_service_that_exits_by_itself(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.once]
command = ["{PY}", "{APP}", "--port", "${port}", "--exit-after", "1", "--exit-code", "0"]
ready = { tcp = "${port}" }
""",
    )
    result = run_stack(["run", "-p", "dev", "--exit-code-from", "once"], tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr  # not 1: it exited 0
    assert "once ended with code 0: stopping" in result.stdout
