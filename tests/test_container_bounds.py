"""Every wait on an engine is bounded (review of issue 24, #13): an engine that holds a
container's followed output stream (a proxy that freezes it) does not hang its stop; the
stream is cut, the stop ends, the container is gone. A pull from a registry that never answers
ends with the start's timeout, not when the engine gives up on the registry."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from stackfixtures.errors import StartError

from . import unix_proxy
from .test_container_sweep import ONE

pytestmark = pytest.mark.slow  # starts a proxy and containers (tests/spawns.py)

BOX = ONE + "stop = {{ grace = 1 }}\n"  # (sh as pid 1 ignores SIGTERM: killed after 1 s)


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


@pytest.fixture
def silent_registry() -> Iterator[tuple[int, list[socket.socket]]]:
    """A registry on 127.0.0.1 that takes connections and never says a word: its port, and the
    connections it took (closed afterwards, with it)."""
    listener = socket.create_server(("127.0.0.1", 0))
    taken: list[socket.socket] = []

    def take() -> None:
        with contextlib.suppress(OSError):  # (closed: the test is over)
            while True:
                taken.append(listener.accept()[0])

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    yield listener.getsockname()[1], taken
    listener.close()
    thread.join(5)
    for each in taken:
        each.close()


async def test_a_pull_that_hangs_ends_with_the_start_timeout(
    tmp_path: Path, make_stack: Any, docker_url: str, silent_registry: Any
) -> None:
    """The engine tries the registry (https) for 10 s before it tries again (http), 25 s in
    all; the start's budget is 2 s, and a read's a second more: the start has failed before the
    engine's second try (it waited for the whole pull, both tries)."""
    port, taken = silent_registry
    image = f"127.0.0.1:{port}/stackfixtures-fixa-stall:1"
    body = f'kind = "nats"\nsource = "container"\nimage = "{image}"\nengine = "{docker_url}"'
    stack = await make_stack(tmp_path, f"[services.bus]\n{body}\nstart_timeout = 2\n")
    with pytest.raises(StartError) as caught:
        await stack.start()
    assert "within its start timeout of 2s" in str(caught.value)
    assert len(taken) == 1, "the start waited for the engine's second try at the registry"
    await stack.close()
