"""Issue 21, item 5, as the chaos bench found it: `stack down` tells the truth about a
launcher that died under it. Real launchers throughout (the helpers: test_trust_liveness)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from .cli_helpers import run_stack
from .conftest import DB_WEB, wait_until, write_project
from .trust_helpers import alive, lock_held, service_pids, state, up

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def test_down_just_after_its_launcher_was_killed_says_what_was_forced(tmp_path: Path) -> None:
    """The launcher is SIGKILLed as `down` is asked (before `down` reaches it): its watchdog
    killed the services. `down` said "is gone; removed its stale control socket" and exited
    0, as though the stack had stopped; it must exit non-zero, say what was forced, and
    record it in last-run.json. The next `down` finds nothing running (exit 0)."""
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    write_project(tmp_path, DB_WEB)
    pid = up(tmp_path, env)
    services = service_pids(tmp_path, env)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not lock_held(tmp_path) and not any(map(alive, services)), timeout=15)
    out = run_stack(["down", "-p", "dev", "--timeout", "10"], tmp_path, timeout=30, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    said = out.stdout + out.stderr
    assert f"launcher (pid {pid})" in said and "forced" in said, said
    assert "db" in said and "web" in said, said
    last = json.loads((state(tmp_path) / "last-run.json").read_text())
    assert last["exit_code"] == 1 and last["launcher_died"] == pid
    assert sorted(s["service"] for s in last["stops"] if not s["graceful"]) == ["db", "web"]
    again = run_stack(["down", "-p", "dev", "--timeout", "10"], tmp_path, timeout=30, env=env)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_down_refused_by_a_stopped_launcher_leaves_no_stop_pending(tmp_path: Path) -> None:
    """`down` of a stopped launcher exits 1 ("launcher pid N is stopped; resume it ... or
    `down --force`"). It had sent its request all the same, so the stack stopped the moment
    it was resumed: a refusal that acts later. Resumed, the stack must run on."""
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    write_project(tmp_path, DB_WEB)
    pid = up(tmp_path, env)
    services = service_pids(tmp_path, env)
    os.kill(pid, signal.SIGSTOP)
    try:
        out = run_stack(["down", "-p", "dev", "--timeout", "5"], tmp_path, timeout=20, env=env)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"launcher pid {pid} is stopped" in out.stderr, out.stdout + out.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(2)  # (a request left pending is served at once once resumed: ~0.1 s)
    assert lock_held(tmp_path) and all(map(alive, services))
    assert sorted(service_pids(tmp_path, env)) == sorted(services)
    down = run_stack(["down", "-p", "dev", "--timeout", "20"], tmp_path, timeout=40, env=env)
    assert down.returncode == 0, down.stdout + down.stderr
