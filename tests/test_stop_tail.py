"""A stop that ends when the services end: once `stack down` returns, no process of the stack
is left running (its services, a daemon one of them left behind, its launcher, its watchdog:
each by pid, looked at at once, with no sleep first); the watchdog, told that the launcher
stopped everything, has exited and was reaped by the launcher. A watchdog whose launcher is
SIGKILLed still kills the services and the daemon."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from stackfixtures._engine.cleanup import reaper

from .cli_helpers import run_stack
from .trust_helpers import alive, launcher_pid, service_pids, watchdog_of

pytestmark = pytest.mark.slow

PROFILE = """
[services.db]
command = ["sleep", "600"]

[services.api]
depends_on = ["db"]
# leaves a daemon in a session of its own, out of its group: stopped with the rest all the same
command = ["sh", "-c", "setsid sh -c 'echo $$ > daemon.pid; exec sleep 600' & exec sleep 600"]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname='t'\nversion='0'\n")
    (tmp_path / "profiles" / "dev.toml").write_text(PROFILE)
    return tmp_path


def start(root: Path) -> tuple[int, int, list[int]]:
    """`stack up`: the launcher's pid, its watchdog's, the services' and the daemon's."""
    out = run_stack(["up", "-p", "dev"], root)
    assert out.returncode == 0, out.stdout + out.stderr
    services = service_pids(root, {})
    assert len(services) == 2
    daemon = root / "daemon.pid"
    deadline = time.monotonic() + 10
    while not (daemon.exists() and daemon.read_text().strip()):
        assert time.monotonic() < deadline, "the daemon never started"
        time.sleep(0.05)
    services.append(int(daemon.read_text()))
    assert alive(services[-1])
    launcher = launcher_pid(root)
    dog = watchdog_of(root)
    assert dog.ppid() == launcher
    return launcher, dog.pid, services


def test_nothing_of_the_stack_runs_once_down_returns(root: Path) -> None:
    launcher, dog, services = start(root)
    out = run_stack(["down", "-p", "dev"], root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "gracefully" in out.stdout
    assert f"stopped 1 orphan that had left its service: pid {services[-1]} " in out.stdout
    # at once: every one has ended (the launcher may be a zombie its parent has yet to reap)
    assert [p for p in [launcher, *services] if alive(p)] == []
    assert not psutil.pid_exists(dog)  # ended and reaped, by the launcher, before it ended


def test_a_watchdog_whose_launcher_is_killed_still_stops_the_services(root: Path) -> None:
    launcher, dog, services = start(root)
    os.kill(launcher, signal.SIGKILL)
    procs = []
    for pid in [dog, *services]:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, left = psutil.wait_procs(procs, timeout=10)
    assert [p.pid for p in left if alive(p.pid)] == []
    out = run_stack(["down", "-p", "dev"], root)  # it says the launcher died; nothing to stop
    assert [p for p in [launcher, dog, *services] if alive(p)] == []
    assert "killed" in out.stdout + out.stderr, out.stdout + out.stderr


def test_descendants_are_those_psutil_finds() -> None:
    """reaper.descendants (what the stop looks through for leftovers) and reaper.children
    read /proc's children files where the kernel has them, psutil's walk otherwise: either
    finds a tree started from two threads (each thread has its own children file)."""
    trees: list[subprocess.Popen[bytes]] = []

    def spawn() -> None:
        trees.append(
            subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"], start_new_session=True)
        )

    spawn()
    other = threading.Thread(target=spawn)
    other.start()
    other.join()
    try:
        deadline = time.monotonic() + 10
        roots = [psutil.Process(t.pid) for t in trees]
        while sum(len(r.children()) for r in roots) < 4:  # two shells, two sleeps each
            assert time.monotonic() < deadline, [r.children() for r in roots]
            time.sleep(0.02)
        # Only our two trees: under xdist the worker has other children (session servers),
        # which may come and go between two looks.
        ours = {r.pid for r in roots} | {c.pid for r in roots for c in r.children()}
        assert ours <= set(reaper.descendants(os.getpid()))
        shell = trees[0].pid
        assert set(reaper.descendants(shell)) == {c.pid for c in psutil.Process(shell).children()}
        # children: the first level alone, from either thread (the launcher's look for orphans)
        mine = set(reaper.children(os.getpid()))
        assert {r.pid for r in roots} <= mine and not (ours - {r.pid for r in roots}) & mine
        assert set(reaper.children(shell)) == {c.pid for c in psutil.Process(shell).children()}
    finally:
        for tree in trees:
            os.killpg(tree.pid, signal.SIGKILL)
            tree.wait(10)
