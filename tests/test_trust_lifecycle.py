"""Issue 21, a newcomer's findings on the lifecycle commands: a copied control.json, a launcher
stopped while it starts or before it is asked to stop, `down` right after `up`, how `up` says
it was interrupted, what a launcher that died mid-stop left, the launcher's pid in `status`.
Real launchers throughout (the fixtures are test_trust_liveness's)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from . import test_trust_liveness as liveness
from .cli_helpers import StackProcess, run_stack
from .conftest import stubborn, wait_until, write_project
from .trust_helpers import alive, lock_held, service_pids, state, up

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

env = liveness.env  # (its fixtures, shared)
stack_up = liveness.stack_up


def test_a_copied_control_json_never_stops_the_stack_it_names(
    stack_up: Path, env: dict[str, str]
) -> None:
    """(1) `cp -a .stack/dev backup; stack down --state-dir backup`, and control.json copied
    into another profile's state dir: neither may reach the stack the copy names."""
    pid = up(stack_up, env)
    backup = stack_up / "backup"
    subprocess.run(["cp", "-a", str(state(stack_up)), str(backup)], check=True)
    out = run_stack(["down", "--state-dir", str(backup)], stack_up, timeout=30, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no stack is running" in out.stdout, out.stdout + out.stderr
    assert (backup / "control.json").exists()  # a foreign pointer is ignored, not removed
    write_project(stack_up, (stack_up / "profiles" / "dev.toml").read_text(), name="other")
    state(stack_up, "other").mkdir()
    (state(stack_up, "other") / "control.json").write_text(
        (state(stack_up) / "control.json").read_text()
    )
    status = run_stack(["status", "-p", "other"], stack_up, timeout=20, env=env)
    assert status.returncode == 4, status.stdout + status.stderr
    down = run_stack(["down", "-p", "other"], stack_up, timeout=30, env=env)
    assert down.returncode == 0 and "no stack is running" in down.stdout, down.stdout
    assert alive(pid)
    assert len(service_pids(stack_up, env)) == 2


def test_down_of_a_stopped_launcher_queues_nothing(stack_up: Path, env: dict[str, str]) -> None:
    """(3) `down` refuses a stopped launcher and says to resume it: once resumed, the stack
    must still run (no stop request was left queued)."""
    pid = up(stack_up, env)
    os.kill(pid, signal.SIGSTOP)
    try:
        out = run_stack(["down", "-p", "dev", "--timeout", "5"], stack_up, timeout=15, env=env)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"kill -CONT {pid}" in out.stderr, out.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    status = run_stack(["status", "-p", "dev"], stack_up, timeout=20, env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    time.sleep(1)  # (a queued stop would have begun by now)
    assert alive(pid)
    assert lock_held(stack_up)
    assert len(service_pids(stack_up, env)) == 2


def test_a_launcher_stopped_while_it_starts_is_named(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(2) kill -STOP of the launcher before its control socket is up: the lock names it;
    `up` (this one and a second), `status` and `down` say it is stopped instead of waiting
    or saying nothing runs; `down --force` kills it."""
    first = StackProcess(["up", "-p", "dev"], cwd=stack_up, env=env)
    started.append(first)
    cli = psutil.Process(first.proc.pid)
    wait_until(lambda: cli.children() != [], timeout=30, step=0.005)
    child = min(cli.children(), key=lambda c: c.create_time())  # its first: the launcher
    # Stopped once it runs the launcher's program, not between fork and exec: there `up`
    # is still inside Popen, which waits for the exec (a stop the test would have made up).
    wait_until(lambda: "stackfixtures._launcher" in child.cmdline(), timeout=30, step=0.002)
    pid = child.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert not (state(stack_up) / "control.json").exists()  # (the window under test)
        wait_until(lambda: lock_held(stack_up), timeout=10, step=0.01)
        lock = state(stack_up) / "launcher.lock"
        # `up` names the launcher in the lock right after spawning it (it held it until then)
        wait_until(lambda: lock.read_text().split()[:1] == [str(pid)], timeout=10, step=0.01)
        first.wait_for(f"launcher pid {pid} is stopped", timeout=15)
        assert first.finish(10) == 1, first.output
        assert "kill -CONT" in first.output
        second = run_stack(["up", "-p", "dev"], stack_up, timeout=20, env=env)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"launcher pid {pid} is stopped" in second.stderr, second.stderr
        status = run_stack(["status", "-p", "dev"], stack_up, timeout=10, env=env)
        assert status.returncode == 1, status.stdout + status.stderr
        assert f"launcher pid {pid} is stopped" in status.stderr, status.stderr
        down = run_stack(["down", "-p", "dev"], stack_up, timeout=10, env=env)
        assert down.returncode == 1, down.stdout + down.stderr
        assert f"launcher pid {pid} is stopped" in down.stderr, down.stderr
        forced = run_stack(["down", "-p", "dev", "--force"], stack_up, timeout=20, env=env)
        assert forced.returncode == 1, forced.stdout + forced.stderr
        assert "killed it (--force)" in forced.stderr, forced.stderr
        assert not lock_held(stack_up)
        assert not alive(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_down_at_once_after_up_stops_that_start(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(4, 5) `stack up &; sleep 0.2; stack down`: `up` holds the state dir's lock before it
    validates the project, so `down` finds the start and stops it; `up` says so (exit 130),
    not "failed to start"."""
    write_project(stack_up, liveness.NEVER_READY)  # still starting whenever `down` comes
    first = StackProcess(["up", "-p", "dev"], cwd=stack_up, env=env)
    started.append(first)
    time.sleep(0.2)
    out = run_stack(["down", "-p", "dev"], stack_up, timeout=60, env=env)
    assert "no stack is running" not in out.stdout, out.stdout + out.stderr
    assert first.finish(60) == 130, first.output
    assert "the start was stopped (stack down)" in first.output, first.output
    assert not lock_held(stack_up)
    status = run_stack(["status", "-p", "dev"], stack_up, timeout=20, env=env)
    assert status.returncode == 4, status.stdout + status.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_up_stops_its_start_and_says_so(
    stack_up: Path, env: dict[str, str], started: list[StackProcess], sig: int
) -> None:
    """(5) Ctrl-C (or SIGTERM) of `stack up` while it loads the project or starts: what was
    started is stopped, `up` says so and exits 130 (not click's "Aborted!" and 1, nor a silent
    143)."""
    first = StackProcess(["up", "-p", "dev"], cwd=stack_up, env=env)
    started.append(first)
    # `up` has begun (it handles SIGTERM from its first line): it is taking the state dir's
    # lock or loading the project, where the old code said "Aborted!" (or died of SIGTERM)
    wait_until(lambda: _catches(first.proc.pid, signal.SIGTERM), timeout=20, step=0.005)
    first.signal(sig)
    assert first.finish(60) == 130, first.output
    assert "interrupted" in first.output and "Aborted" not in first.output, first.output
    assert not lock_held(stack_up)


SLOW = stubborn(grace=6, name="slow")


def test_a_launcher_killed_mid_stop_names_what_its_watchdog_killed(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(6) kill -9 of the launcher while `down` waits out a 6 s grace: `down` names the
    service that was still running (not "nothing"), even when the dead stack's ledger was
    swept (by any other `stack` command) before `down` looked again."""
    write_project(stack_up, SLOW)
    write_project(stack_up, SLOW, name="other")
    pid = up(stack_up, env)
    down = StackProcess(["down", "-p", "dev"], cwd=stack_up, env=env)
    started.append(down)
    log = state(stack_up) / "logs" / "slow.log"
    wait_until(lambda: "ignoring SIGTERM" in log.read_text(), timeout=30)
    time.sleep(0.5)  # (`down` has looked at the stack meanwhile)
    os.kill(down.proc.pid, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not lock_held(stack_up), timeout=10)
        swept = run_stack(["down", "-p", "other"], stack_up, timeout=30, env=env)
        assert swept.returncode == 0, swept.stdout + swept.stderr
    finally:
        os.kill(down.proc.pid, signal.SIGCONT)
    assert down.finish(30) == 1, down.output
    assert "killed what it still ran: slow (forced)" in down.output, down.output


def test_a_launcher_stopped_after_down_asked_it_says_the_stop_is_queued(
    stack_up: Path, env: dict[str, str], started: list[StackProcess]
) -> None:
    """(3) kill -STOP of the launcher after `down` sent its request: `down` says the stop is
    queued (it happens on `kill -CONT`), not that resuming keeps the stack."""
    write_project(stack_up, SLOW)
    pid = up(stack_up, env)
    down = StackProcess(["down", "-p", "dev"], cwd=stack_up, env=env)
    started.append(down)
    log = state(stack_up) / "logs" / "slow.log"
    wait_until(lambda: "ignoring SIGTERM" in log.read_text(), timeout=30)
    os.kill(pid, signal.SIGSTOP)
    try:
        assert down.finish(15) == 1, down.output
        assert "the stop is queued" in down.output, down.output
    finally:
        os.kill(pid, signal.SIGCONT)
    again = run_stack(["down", "-p", "dev"], stack_up, timeout=30, env=env)
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert not lock_held(stack_up)


def _catches(pid: int, sig: int) -> bool:
    """Whether process `pid` has a handler for `sig` (/proc/PID/status SigCgt)."""
    with open(f"/proc/{pid}/status") as f:
        caught = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) >> (sig - 1) & 1)


def test_status_names_the_launcher_pid(stack_up: Path, env: dict[str, str]) -> None:
    """(7) `status --json` and the table say which process runs the stack."""
    pid = up(stack_up, env)
    out = run_stack(["status", "-p", "dev", "--json"], stack_up, timeout=20, env=env)
    assert json.loads(out.stdout)["stack"]["launcher_pid"] == pid
    human = run_stack(["status", "-p", "dev"], stack_up, timeout=20, env=env)
    assert f"launcher pid {pid}" in human.stdout, human.stdout


def test_a_start_given_up_removes_only_what_it_made(tmp_path: Path) -> None:
    """A start that never began undoes its state dir and the new `.stack` above it, but never
    a sibling stack's state dir made in that new `.stack` meanwhile (rmtree of the outermost
    new directory removed it)."""
    from stackfixtures._launcher import detached

    reserved = detached.reserve(tmp_path / ".stack" / "bad", "bad", tmp_path)
    assert reserved.made == tmp_path / ".stack"
    sibling = tmp_path / ".stack" / "other"
    sibling.mkdir()
    (sibling / "data").write_text("theirs\n")
    reserved.release()
    assert (sibling / "data").read_text() == "theirs\n"
    assert not (tmp_path / ".stack" / "bad").exists()
    alone = detached.reserve(tmp_path / "new" / "bad", "bad", tmp_path)
    alone.release()
    assert not (tmp_path / "new").exists()  # with nothing else in it, all it made is gone
