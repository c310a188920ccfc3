"""A sweep while a dead stack's engine does not answer keeps the stack's record (and says so):
the next sweep, once the engine is back, removes its container and network, and says which
(review of issue 24, #2: the record was dropped, so they were left for good)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import unix_proxy
from .cli_helpers import StackProcess, run_stack
from .conftest import write_project
from .test_container_cleanup import NONE, left, ours, remove_all, watchdog_of

pytestmark = pytest.mark.slow  # starts launchers, a proxy and containers (tests/spawns.py)

ONE = """
[services.box]
kind = "container"
engine = "unix://{proxy}"
image = "{image}"
command = ["sh", "-c", "echo up; while true; do sleep 0.1; done"]
ready = {{ log = "up" }}
"""


@pytest.fixture
def engine_proxy(tmp_path: Path, docker_url: str) -> Iterator[list[Any]]:
    """The test's proxies to the engine (append them): each stopped by its pid afterwards."""
    started: list[Any] = []
    yield started
    for proc in started:
        unix_proxy.stop(proc)


def test_a_sweep_while_the_engine_is_away_keeps_the_record_for_the_next(
    tmp_path: Path, docker_url: str, busybox: str, docker_client: Any, engine_proxy: list[Any]
) -> None:
    sock = tmp_path / "engine.sock"
    engine_proxy.append(unix_proxy.start(sock, docker_url))
    write_project(tmp_path, ONE.format(proxy=sock, image=busybox))
    env = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    p = StackProcess(["run", "-p", "dev"], cwd=tmp_path, env=env)
    try:
        p.wait_for("NAME")
        os.kill(watchdog_of(tmp_path).pid, signal.SIGKILL)
        os.kill(p.proc.pid, signal.SIGKILL)
        p.proc.wait(5)
        unix_proxy.stop(engine_proxy[0])  # the engine away
        [container] = ours(docker_client, tmp_path)
        name = container.attrs["Names"][0].lstrip("/")
        away = run_stack(["down", "-p", "dev"], tmp_path, env=env)
        said = away.stdout + away.stderr
        assert f"engine unix://{sock} did not answer" in said, said
        assert "the next sweep" in said, said
        assert left(docker_client, tmp_path) == {"containers": 1, "networks": 1, "volumes": 0}
        engine_proxy.append(unix_proxy.start(sock, docker_url))  # back
        back = run_stack(["down", "-p", "dev"], tmp_path, env=env)
        said = back.stdout + back.stderr
        assert left(docker_client, tmp_path) == NONE, said
        assert f"container {name}" in said and "network " in said, said
    finally:
        p.kill()
        remove_all(docker_client, tmp_path)
