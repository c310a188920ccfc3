"""Every wait on an engine is bounded (review of issue 24, #13): an engine that holds a
container's followed output stream (a proxy that freezes it) does not hang its stop; the
stream is cut, the stop ends, the container is gone."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from . import unix_proxy

pytestmark = pytest.mark.slow  # starts a proxy and containers (tests/spawns.py)

BOX = """
[services.box]
kind = "container"
engine = "unix://{proxy}"
image = "{image}"
command = ["sh", "-c", "trap 'exit 0' TERM; echo up; while true; do sleep 0.1; done"]
ready = {{ log = "up" }}
stop = {{ grace = 1 }}
"""


@pytest.fixture
def proxy(tmp_path: Path, docker_url: str) -> Iterator[tuple[Path, Any]]:
    sock = tmp_path / "engine.sock"
    proc = unix_proxy.start(sock, docker_url)
    yield sock, proc
    unix_proxy.stop(proc)


async def test_an_engine_that_holds_the_output_stream_does_not_hang_the_stop(
    tmp_path: Path, make_stack: Any, busybox: str, docker_client: Any, proxy: Any
) -> None:
    sock, proc = proxy
    stack = await make_stack(tmp_path, BOX.format(proxy=sock, image=busybox))
    handle = (await stack.start())["box"]
    proc.send_signal(signal.SIGUSR1)  # its followed output: never another byte, nor its end
    async with asyncio.timeout(60):  # (the test's own bound: it hung for good)
        await stack.stop(["box"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(handle.container_id)
    said = list(stack.units["box"].log.tail(50))
    assert any("output stream within" in line for line in said), said
    await stack.close()
