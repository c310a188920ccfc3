"""Issue 21, items 3-5: a stack's identity is its lock, lifecycle commands are serialised per
state dir, every wait is bounded and exit codes tell the truth. Real launchers throughout."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stackfixtures import _launcher as launcher
from stackfixtures._engine.cleanup import watchdog

from .cli_helpers import STACK, StackProcess, run_stack
from .conftest import DB_WEB, wait_until, write_project
from .trust_helpers import alive, launcher_pid, lock_held, service_pids, state, up, watchdog_of

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

UNSHARE = shutil.which("unshare")
IN_NEW_PID_NS = [str(UNSHARE), "--pid", "--fork", "--mount-proc"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A registry of crashed stacks of the test's own (others' sweeps must not interfere)."""
    return {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}


@pytest.fixture
def stack_up(tmp_path: Path, env: dict[str, str]) -> Iterator[Path]:
    """The DB_WEB project, brought down (its launcher resumed first) after the test."""
    write_project(tmp_path, DB_WEB)
    yield tmp_path
    with contextlib.suppress(Exception):
        os.kill(launcher_pid(tmp_path), signal.SIGCONT)
    run_stack(["down", "-p", "dev", "--timeout", "30"], tmp_path, timeout=60, env=env)


def test_a_paused_watchdog_never_harms_the_next_stack_of_its_state_dir(
    stack_up: Path, env: dict[str, str]
) -> None:
    """(3a) kill -STOP of the watchdog, kill -9 of its launcher, `up` again, kill -CONT."""
    first = up(stack_up, env)
    guard = watchdog_of(stack_up)
    guard.suspend()
    try:
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not alive(first), timeout=10)
        up(stack_up, env)
        healthy = service_pids(stack_up, env)
        assert len(healthy) == 2
    finally:
        with contextlib.suppress(psutil.Error):
            guard.resume()
    with contextlib.suppress(psutil.Error):
        guard.wait(10)  # it woke up (if still there) and did whatever it does
    assert all(alive(pid) for pid in healthy)
    assert service_pids(stack_up, env) == healthy


@pytest.mark.skipif(UNSHARE is None, reason="needs unshare(1) for a second PID namespace")
def test_status_from_another_pid_namespace_trusts_a_live_stack(
    stack_up: Path, env: dict[str, str]
) -> None:
    """(3b) `stack status` in a sibling PID namespace (sharing the files) must neither take the
    live launcher for dead nor remove its control socket."""
    up(stack_up, env)
    inside = subprocess.run(
        [*IN_NEW_PID_NS, STACK, "status", "-p", "dev"],
        cwd=stack_up,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert inside.returncode == 0, inside.stdout + inside.stderr
    assert "stale" not in inside.stdout + inside.stderr
    assert (state(stack_up) / "control.json").exists()
    assert len(service_pids(stack_up, env)) == 2


@pytest.mark.skipif(UNSHARE is None, reason="needs unshare(1) for a second PID namespace")
def test_a_sweep_never_touches_a_live_stack_of_another_pid_namespace(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """(3b) A stack runs in a PID namespace of its own (a container sharing /tmp); a sweep and
    a `stack status` from the host see its launcher under another pid, and must leave it be."""
    write_project(tmp_path, DB_WEB)
    write_project(tmp_path, DB_WEB, name="other")
    container = subprocess.Popen(
        [*IN_NEW_PID_NS, "sh", "-c", f"'{STACK}' up -p dev && exec sleep 600"],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (state(tmp_path) / "control.json").exists(), timeout=60)
        wait_until(lambda: len(service_pids(tmp_path, env)) == 2, timeout=60)
        services = [  # (their pids as the host sees them: status says the namespace's)
            p.pid
            for p in psutil.process_iter(["environ", "cwd"])
            if "STACKFIXTURES_SERVICE" in (p.info["environ"] or {})
            and str(tmp_path) in (p.info["cwd"] or "")
        ]
        assert len(services) == 2
        swept = run_stack(["down", "-p", "other"], tmp_path, timeout=30, env=env)  # sweeps
        assert "leftover" not in swept.stdout + swept.stderr
        assert all(alive(pid) for pid in services)
        host = run_stack(["status", "-p", "dev"], tmp_path, timeout=30, env=env)
        assert host.returncode == 0, host.stdout + host.stderr
        assert (state(tmp_path) / "control.json").exists()
        down = run_stack(["down", "-p", "dev"], tmp_path, timeout=60, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
    finally:
        os.killpg(container.pid, signal.SIGKILL)  # its init goes: the namespace goes with it
        container.wait()


FORKS = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}", "--grandchild", "PIDFILE"]
ready = { tcp = "${port}" }
"""


def test_a_crashed_stack_of_another_project_is_reported_as_such(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """(3b) Sweeping another project's crashed stack says whose it was."""
    theirs, mine = tmp_path / "theirs", tmp_path / "mine"
    pidfile = tmp_path / "grandchild.pid"
    write_project(theirs, FORKS.replace("PIDFILE", str(pidfile)))
    write_project(mine, DB_WEB)
    first = up(theirs, env)
    os.kill(watchdog_of(theirs).pid, signal.SIGKILL)  # nothing but the ledger is left
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), timeout=10)
    left = int(pidfile.read_text())
    assert alive(left)
    out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
    said = out.stdout + out.stderr
    assert f"leftover process(es) of a crashed stack of project {theirs}" in said, said
    assert f"state dir {state(theirs)}" in said
    wait_until(lambda: not alive(left), timeout=10)


ESCAPES = """
[services.db]
command = ["sh", "-c", "setsid env -i sh -c 'sleep 300 & echo $! > PIDFILE'; exec '{PY}' '{APP}' --port ${port}"]
ready = { tcp = "${port}" }
"""  # noqa: E501


def test_a_daemon_that_left_with_setsid_env_i_is_stopped_with_its_stack(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """(3c) No marker, no group, no session: the launcher catches it as a subreaper would."""
    pidfile = tmp_path / "daemon.pid"
    write_project(tmp_path, ESCAPES.replace("PIDFILE", str(pidfile)))
    up(tmp_path, env)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", timeout=10)
    daemon = int(pidfile.read_text())
    try:
        assert alive(daemon)
        out = run_stack(["down", "-p", "dev"], tmp_path, timeout=60, env=env)
        assert "orphan" in out.stdout, out.stdout + out.stderr
        assert not alive(daemon)
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)


SHORT_LIVED = """
[services.db]
command = ["sh", "-c", "(sleep 0.2 &); exec '{PY}' '{APP}' --port ${port}"]
ready = { tcp = "${port}" }
"""


def test_an_adopted_orphan_that_exits_is_reaped_while_the_stack_runs(
    stack_up: Path, env: dict[str, str]
) -> None:
    """(3c) The launcher adopts orphans as a subreaper: one that exits on its own must not
    stay a zombie for as long as the stack runs."""
    write_project(stack_up, SHORT_LIVED)
    launcher_process = psutil.Process(up(stack_up, env))

    def zombies() -> list[int]:
        return [c.pid for c in launcher_process.children() if c.status() == "zombie"]

    wait_until(lambda: zombies() != [], timeout=10, step=0.05)  # the sleep, adopted, exited
    wait_until(lambda: zombies() == [], timeout=30)


NEVER_READY = """
[services.db]
command = ["sleep", "300"]
ready = { tcp = "${port}", timeout = 600 }
"""
"""A start that is still going on whenever a `down` arrives, however loaded the machine (with
DB_WEB, a slow `down` could find the stack already up, and the test then failed)."""


def starting(root: Path, env: dict[str, str], started: list[StackProcess]) -> StackProcess:
    """`stack up` of DB_WEB, returned once it has started a launcher (before that launcher
    took its lock or published its socket: the window the races were in)."""
    p = StackProcess(["up", "-p", "dev"], cwd=root, env=env)
    started.append(p)
    wait_until(lambda: (state(root) / "launcher.log").exists(), timeout=30, step=0.01)
    return p


def test_down_while_up_is_starting_stops_that_start(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(4) `down` right after `up`: not "no stack is running" while the stack comes up."""
    write_project(stack_up, NEVER_READY)
    p = starting(stack_up, env, started)
    out = run_stack(["down", "-p", "dev"], stack_up, timeout=60, env=env)
    assert "no stack is running" not in out.stdout, out.stdout + out.stderr
    assert p.finish() != 0, p.output  # its start was stopped
    assert not lock_held(stack_up)
    status = run_stack(["status", "-p", "dev"], stack_up, timeout=20, env=env)
    assert status.returncode == 4, status.stdout


def test_clean_while_up_is_starting_refuses(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(4) `clean` while the stack starts removes nothing."""
    p = starting(stack_up, env, started)
    out = run_stack(["clean", "-p", "dev"], stack_up, timeout=30, env=env)
    assert out.returncode != 0, out.stdout + out.stderr
    assert p.finish() == 0, p.output
    assert (state(stack_up) / "control.json").exists()
    assert len(service_pids(stack_up, env)) == 2


def test_a_second_up_waits_for_the_first_and_says_already_up(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(4) Two `stack up` at once: both exit 0, one stack runs."""
    first = starting(stack_up, env, started)
    second = run_stack(["up", "-p", "dev"], stack_up, timeout=60, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already up" in second.stdout
    assert first.finish() == 0, first.output
    assert len(service_pids(stack_up, env)) == 2


def test_status_names_a_stopped_launcher_at_once(stack_up: Path, env: dict[str, str]) -> None:
    """(5) kill -STOP of the launcher: `status` says so instead of hanging."""
    pid = up(stack_up, env)
    os.kill(pid, signal.SIGSTOP)
    out = run_stack(["status", "-p", "dev"], stack_up, timeout=10, env=env)
    assert out.returncode != 0
    assert f"launcher pid {pid} is stopped" in out.stderr, out.stdout + out.stderr


def test_down_of_a_stopped_launcher_honours_its_timeout_and_force_kills_it(
    stack_up: Path, env: dict[str, str]
) -> None:
    """(5) `down --timeout 2` of a stopped launcher returns (non-zero, saying why) within its
    timeout; `down --force` kills it, and says what was forced."""
    pid = up(stack_up, env)
    services = service_pids(stack_up, env)
    os.kill(pid, signal.SIGSTOP)
    out = run_stack(["down", "-p", "dev", "--timeout", "2"], stack_up, timeout=8, env=env)
    assert out.returncode != 0
    assert f"launcher pid {pid} is stopped" in out.stderr, out.stdout + out.stderr
    forced = run_stack(["down", "-p", "dev", "--force"], stack_up, timeout=30, env=env)
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert "forced" in forced.stdout + forced.stderr
    wait_until(lambda: not any(alive(s) for s in services), timeout=10)


IGNORING = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}", "--ignore-term"]
ready = { tcp = "${port}" }
stop = { grace = 60 }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}", "--ignore-term"]
depends_on = ["db"]
ready = { tcp = "${port}" }
stop = { grace = 60 }
"""


def test_down_whose_launcher_dies_mid_stop_exits_non_zero_and_says_so(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(5) The launcher is SIGKILLed while `down` waits for it: its watchdog kills the rest;
    `down` must not report success (nor say nothing), and last-run.json says so too."""
    write_project(stack_up, IGNORING)
    pid = up(stack_up, env)
    down = StackProcess(["down", "-p", "dev"], cwd=stack_up, env=env)
    started.append(down)
    log = state(stack_up) / "logs" / "web.log"  # (the launcher's own log keeps its own lines)
    wait_until(lambda: "ignoring SIGTERM" in log.read_text(), timeout=30)
    hurried = run_stack(["down", "-p", "dev", "--timeout", "2"], stack_up, timeout=10, env=env)
    assert hurried.returncode == 1, hurried.stdout + hurried.stderr  # --timeout honoured
    assert "still stopping after 2s" in hurried.stderr
    os.kill(pid, signal.SIGKILL)
    assert down.finish(30) != 0, down.output
    assert "web" in down.output and "forced" in down.output, down.output
    last = json.loads((state(stack_up) / "last-run.json").read_text())
    assert last["exit_code"] != 0
    assert [s["service"] for s in last["stops"] if not s["graceful"]] == ["db", "web"]


def test_a_zombie_launcher_counts_as_exited(stack_up: Path, env: dict[str, str]) -> None:
    """(5) A launcher whose parent does not reap it (PID 1 without an init) stays a zombie:
    `down` must see it gone, not wait its whole timeout and fail."""
    opts = launcher.Options(profile="dev", state_dir=str(state(stack_up)))
    parent = subprocess.Popen(  # its parent: this test, which does not wait() for it yet
        launcher.argv(opts),
        cwd=stack_up,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        control = state(stack_up) / "control.json"
        wait_until(lambda: control.exists() and lock_held(stack_up), timeout=60)
        wait_until(lambda: len(service_pids(stack_up, env)) == 2, timeout=60)
        out = run_stack(["down", "-p", "dev", "--timeout", "20"], stack_up, timeout=60, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "gracefully" in out.stdout
    finally:
        parent.wait(30)


def test_watchdog_stop_when_the_watchdog_is_gone(tmp_path: Path) -> None:
    """(10) watchdog.stop() after the watchdog died: no BrokenPipeError."""
    guard = subprocess.Popen(  # a real watchdog, of a stack that recorded nothing
        [
            sys.executable,
            "-m",
            "stackfixtures._engine.cleanup.watchdog",
            str(tmp_path / "none.json"),
            "nostack",
        ],
        stdin=subprocess.PIPE,
    )
    guard.kill()
    guard.wait(10)
    watchdog.stop(guard)
    assert guard.returncode == -signal.SIGKILL
