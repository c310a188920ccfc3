"""Nothing left behind, containers included: a launcher killed with SIGKILL leaves 0 of its
stack's containers, removed by its watchdog, or, with the watchdog killed too, by the next
command's sweep (both read the engines the ledger recorded and remove what carries the stack's
label)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from .cli_helpers import StackProcess, run_stack
from .conftest import wait_until, write_project

pytestmark = pytest.mark.slow  # starts launchers, dockerd and containers (tests/spawns.py)

PROJECT_LABEL = "io.stackfixtures.project"

THREE = "".join(
    f"""
[services.box{i}]
kind = "container"
engine = "{{url}}"
image = "{{image}}"
command = ["sh", "-c", "echo up; while true; do sleep 0.1; done"]
ready = {{{{ log = "up" }}}}
"""
    for i in range(3)
)


def ours(client: Any, root: Path) -> list[Any]:
    """The containers of stacks of the project at `root`, running or not."""
    return list(
        client.containers.list(all=True, sparse=True, filters={"label": f"{PROJECT_LABEL}={root}"})
    )


@pytest.fixture
def three(tmp_path: Path, docker_url: str, busybox: str, docker_client: Any) -> Iterator[Any]:
    """`stack run` of THREE at tmp_path, ready (its own registry: other tests' sweeps must not
    take its leftovers); killed afterwards, with any container the test left (if it failed)."""
    write_project(tmp_path, THREE.format(url=docker_url, image=busybox))
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    p = StackProcess(["run", "-p", "dev"], cwd=tmp_path, env=env)
    try:
        p.wait_for("NAME")
        yield p, env
    finally:
        p.kill()
        for left in ours(docker_client, tmp_path):
            left.remove(force=True)


def watchdog_of(root: Path) -> psutil.Process:
    return next(
        c
        for c in psutil.process_iter(["cmdline"])
        if "stackfixtures._engine.cleanup.watchdog" in " ".join(c.info["cmdline"] or [])
        and str(root) in " ".join(c.info["cmdline"] or [])
    )


def test_sigkill_of_the_launcher_leaves_no_container(
    tmp_path: Path, three: Any, docker_client: Any
) -> None:
    p, _ = three
    assert len(ours(docker_client, tmp_path)) == 3
    os.kill(p.proc.pid, signal.SIGKILL)
    wait_until(lambda: ours(docker_client, tmp_path) == [], timeout=15)


def test_with_its_watchdog_killed_too_the_next_sweep_removes_them(
    tmp_path: Path, three: Any, docker_client: Any
) -> None:
    p, env = three
    os.kill(watchdog_of(tmp_path).pid, signal.SIGKILL)
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait(5)
    assert len(ours(docker_client, tmp_path)) == 3  # nobody removed them: left behind
    down = run_stack(["down", "-p", "dev"], tmp_path, env=env)
    assert "died before it stopped the stack" in down.stderr  # (so down exits 1)
    assert ours(docker_client, tmp_path) == [], down.stdout + down.stderr
