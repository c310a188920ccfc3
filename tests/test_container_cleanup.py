"""Nothing left behind, containers included: a launcher killed with SIGKILL leaves 0 of its
stack's containers, networks and volumes, removed by its watchdog, or, with the watchdog killed
too, by the next command's sweep (both read the engines the ledger recorded and remove what
carries the stack's label)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from stackfixtures import State

from .cli_helpers import StackProcess, run_stack
from .conftest import until, wait_until, write_project

pytestmark = pytest.mark.slow  # starts launchers, dockerd and containers (tests/spawns.py)

PROJECT_LABEL = "io.stackfixtures.project"

THREE = "".join(
    f"""
[services.box{i}]
kind = "container"
engine = "{{url}}"
image = "{{image{i}}}"
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


def left(client: Any, root: Path) -> dict[str, int]:
    """How many containers, networks and volumes of the project's stacks are there."""
    mine = {"label": f"{PROJECT_LABEL}={root}"}
    return {
        "containers": len(ours(client, root)),
        "networks": len(client.networks.list(filters=mine)),
        "volumes": len(client.volumes.list(filters=mine)),
    }


NONE = {"containers": 0, "networks": 0, "volumes": 0}


@pytest.fixture
def three(
    tmp_path: Path, docker_url: str, busybox: str, volume_image: str, docker_client: Any
) -> Iterator[Any]:
    """`stack run` of THREE at tmp_path (box0 of an image with a VOLUME), ready (its own
    registry: other tests' sweeps must not take its leftovers); killed afterwards, with
    anything of it the test left (if it failed)."""
    images = {"image0": volume_image, "image1": busybox, "image2": busybox}
    write_project(tmp_path, THREE.format(url=docker_url, **images))
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    p = StackProcess(["run", "-p", "dev"], cwd=tmp_path, env=env)
    try:
        p.wait_for("NAME")
        yield p, env
    finally:
        p.kill()
        remove_all(docker_client, tmp_path)


def remove_all(client: Any, root: Path) -> None:
    """Remove what the project's stacks left on the engine (a test that failed)."""
    mine = {"label": f"{PROJECT_LABEL}={root}"}
    for container in ours(client, root):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=mine):
        network.remove()
    for volume in client.volumes.list(filters=mine):
        volume.remove(force=True)


def watchdog_of(root: Path) -> psutil.Process:
    return next(
        c
        for c in psutil.process_iter(["cmdline"])
        if "stackfixtures._engine.cleanup.watchdog" in " ".join(c.info["cmdline"] or [])
        and str(root) in " ".join(c.info["cmdline"] or [])
    )


def test_sigkill_of_the_launcher_leaves_no_container_network_or_volume(
    tmp_path: Path, three: Any, docker_client: Any
) -> None:
    p, _ = three
    assert left(docker_client, tmp_path) == {"containers": 3, "networks": 1, "volumes": 1}
    killed = time.monotonic()
    os.kill(p.proc.pid, signal.SIGKILL)
    wait_until(lambda: left(docker_client, tmp_path) == NONE, timeout=15, step=0.05)
    # the figure (the issue asks for 3 s; asserted is only that it happens, within 15 s)
    print(f"\nall of the stack gone {time.monotonic() - killed:.2f} s after the SIGKILL")


def test_with_its_watchdog_killed_too_the_next_sweep_removes_them(
    tmp_path: Path, three: Any, docker_client: Any
) -> None:
    p, env = three
    os.kill(watchdog_of(tmp_path).pid, signal.SIGKILL)
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait(5)
    # nobody removed them: left behind
    assert left(docker_client, tmp_path) == {"containers": 3, "networks": 1, "volumes": 1}
    down = run_stack(["down", "-p", "dev"], tmp_path, env=env)
    assert "died before it stopped the stack" in down.stderr  # (so down exits 1)
    assert left(docker_client, tmp_path) == NONE, down.stdout + down.stderr


STUBBORN = """
[services.waiter]
kind = "container"
engine = "{url}"
image = "{image}"
command = ["sh", "-c", "trap '' TERM; echo waiting; while true; do sleep 0.1; done"]
ready = {{ log = "waiting" }}
stop = {{ grace = 120 }}
"""


async def test_a_hurried_stop_kills_the_container_without_waiting_out_its_grace(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    """A second Ctrl-C (the stack hurried) while a container ignores its stop signal: killed
    then, not after its grace, and removed."""
    stack = await make_stack(tmp_path, STUBBORN.format(url=docker_url, image=busybox))
    await stack.start()
    stopping = asyncio.create_task(stack.stop(["waiter"]))
    await until(lambda: stack.state("waiter") is State.STOPPING)
    stack.force()
    async with asyncio.timeout(60):  # (its grace is 120 s: this ends only if hurried)
        await stopping
    said = list(stack.units["waiter"].log.tail(50))
    assert any(line.endswith("exited with 137") for line in said), said
    assert ours(docker_client, tmp_path) == []
    await stack.close()
