"""The stack's network: containers reach each other by service name, a container reaches a
process service of the stack (loopback only) through the stack's relay, a process service
reaches a container at its published port, the image's VOLUMEs are the stack's (labelled,
removed with the container), and `stack exec` hands out a container's endpoint as the host
reaches it. Real containers on a real engine (tests/docker_fixtures.py), real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .cli_helpers import run_stack
from .conftest import until, write_project
from .test_kind_container import lines

pytestmark = pytest.mark.slow  # starts containers and processes (tests/spawns.py)

STACK_LABEL = "io.stackfixtures.stack"


def of_stack(collection: Any, stack: Any) -> list[Any]:
    return list(collection.list(filters={"label": f"{STACK_LABEL}={stack.stack_id}"}))


FETCH = (  # the container's shell: what it was given, then a real HTTP GET (busybox's wget)
    "echo api=$API at $API_HOST:$API_PORT; "
    "busybox wget -qO- $API/env/STACKFIXTURES_SERVICE && echo && echo fetched; exec sleep 600"
)

PROCESS_AND_CONTAINER = """
[services.api]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }

[services.fetch]
kind = "container"
engine = "URL"
image = "IMAGE"
depends_on = ["api"]
env = { API = "${api.url}", API_HOST = "${api.host}", API_PORT = "${api.port}" }
command = ["sh", "-c", "FETCH"]
ready = { log = "fetched" }
stop = { grace = 0.4 }  # (PID 1 without a SIGTERM handler: killed at once)
"""


async def test_a_container_reaches_a_loopback_process_service_through_the_relay(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    profile = (
        PROCESS_AND_CONTAINER.replace("FETCH", FETCH)
        .replace("URL", docker_url)
        .replace("IMAGE", busybox)
    )
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    api = stack.handle("api")
    [network] = of_stack(docker_client.networks, stack)
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    said = lines(stack, "fetch")
    # the handle as the container reaches it: the gateway, the same port (the relay's)
    assert f"api=http://{gateway}:{api.port} at {gateway}:{api.port}" in said, said
    assert '{"value": "api"}' in said  # a real HTTP answer of the api process, from inside
    assert api.host == "127.0.0.1"  # the process service still listens on loopback only
    await stack.stop(["fetch"])
    # the relay went with the last container that needed it, the network with the last one
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{gateway}:{api.port}/health", timeout=2)
    assert of_stack(docker_client.networks, stack) == []
    await stack.close()


BY_NAME = """
[services.web]
kind = "container"
engine = "URL"
image = "VOLUME_IMAGE"
command = ["sh", "-c", "echo kept > /data/f; exec httpd -f -p 80 -h /www"]
ports = { "80" = "${port}" }
ready = { http = "http://127.0.0.1:${port}/" }
stop = { grace = 0.4 }  # (PID 1 without a SIGTERM handler: killed at once)

[services.client]
kind = "container"
engine = "URL"
image = "IMAGE"
depends_on = ["web"]
env = { WEB = "${web.url}" }
command = ["sh", "-c", "echo web=$WEB; busybox wget -qO- $WEB/ && echo fetched; exec sleep 600"]
ready = { log = "fetched" }
stop = { grace = 0.4 }  # (PID 1 without a SIGTERM handler: killed at once)

[services.check]
task = true
depends_on = ["web"]
command = ["{PY}", "-c", "import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read())",
           "${web.url}"]
"""


async def test_containers_reach_each_other_by_name_and_the_host_by_the_published_port(
    tmp_path: Path,
    make_stack: Any,
    docker_url: str,
    busybox: str,
    volume_image: str,
    docker_client: Any,
) -> None:
    profile = BY_NAME.replace("URL", docker_url).replace("VOLUME_IMAGE", volume_image)
    stack = await make_stack(tmp_path, profile.replace("IMAGE", busybox))
    handles = await stack.start()
    said = lines(stack, "client")
    assert "web=http://web:80" in said and "hello from busybox" in said, said
    assert handles["check"].exit_code == 0  # a process reached the container: published port
    assert any("hello from busybox" in line for line in lines(stack, "check"))
    [network] = of_stack(docker_client.networks, stack)
    assert network.attrs["Labels"][STACK_LABEL] == stack.stack_id
    # the image's VOLUME: a volume of ours, labelled, mounted at /data
    [volume] = of_stack(docker_client.volumes, stack)
    web = docker_client.containers.get(handles["web"].container_id)
    [mount] = [m for m in web.attrs["Mounts"] if m["Destination"] == "/data"]
    assert mount["Name"] == volume.name
    assert volume.attrs["Labels"]["io.stackfixtures.service"] == "web"
    await stack.close()
    assert of_stack(docker_client.volumes, stack) == []
    assert of_stack(docker_client.networks, stack) == []


EXEC = """
[services.web]
kind = "container"
engine = "URL"
image = "IMAGE"
command = ["httpd", "-f", "-p", "80", "-h", "/www"]
ports = { "80" = "${port}" }
ready = { http = "http://127.0.0.1:${port}/" }
stop = { grace = 0.4 }  # (PID 1 without a SIGTERM handler: killed at once)
"""

SHOW = (
    "import json, os, urllib.request as u; e = os.environ; "
    "print(json.dumps({k: e[k] for k in ('WEB_URL', 'WEB_HOST', 'WEB_PORT')} "
    "| {'page': u.urlopen(e['WEB_URL']).read().decode()}))"
)


def test_stack_exec_gives_a_container_services_endpoint_as_the_host_reaches_it(
    tmp_path: Path, docker_url: str, busybox: str, docker_client: Any
) -> None:
    write_project(tmp_path, EXEC.replace("URL", docker_url).replace("IMAGE", busybox))
    result = run_stack(["exec", "-p", "dev", "--", sys.executable, "-c", SHOW], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", got["WEB_URL"])
    assert got["WEB_HOST"] == "127.0.0.1" and got["WEB_URL"].endswith(f":{got['WEB_PORT']}")
    assert got["page"] == "hello from busybox\n"
    project = {"label": f"io.stackfixtures.project={tmp_path}"}
    assert (
        docker_client.containers.list(all=True, sparse=True, filters=project) == []
    )  # stopped after
    assert docker_client.networks.list(filters=project) == []


async def test_a_relay_forwards_only_for_peers_of_its_subnet() -> None:
    """What a relay is for: a peer of the stack network's subnet is forwarded to the loopback
    service, any other gets its connection closed (here on loopback, the peer 127.0.0.1)."""
    from stackfixtures.kinds.container.relay import Relay

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    target = ("127.0.0.1", int(server.sockets[0].getsockname()[1]))
    try:
        for subnet, reached in (("127.0.0.0/8", True), ("10.255.255.0/24", False)):
            relay = Relay("127.0.0.1", subnet, target, "svc")
            await relay.start()
            try:
                async with httpx.AsyncClient() as client:
                    url = f"http://127.0.0.1:{relay.port}/"
                    if reached:
                        assert (await client.get(url, timeout=5)).text == "ok"
                    else:
                        with pytest.raises(httpx.TransportError):
                            await client.get(url, timeout=5)
            finally:
                await relay.aclose()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_relay_that_cannot_listen_on_the_gateway_says_why() -> None:
    """A gateway that is no address of this machine (an engine elsewhere): said at once."""
    from stackfixtures.errors import StartError
    from stackfixtures.kinds.container.relay import Relay

    relay = Relay("192.0.2.1", "192.0.2.0/24", ("127.0.0.1", 8000), "web", "api")  # TEST-NET-1
    with pytest.raises(StartError) as caught:
        await relay.start()
    said = str(caught.value)
    assert "'web'" in said and "api (127.0.0.1:8000" in said and "192.0.2.1" in said
    assert "another machine" in said


def test_a_handle_as_a_container_sees_it() -> None:
    """Every loopback address of a moved port is rewritten (url, dsn, host, port); others stay."""
    from stackfixtures import Handle
    from stackfixtures.kinds.container.dependency_view import loopback_ports, seen_inside

    db = Handle(
        host="127.0.0.1",
        port=5432,
        dsn="postgresql://u:secret@127.0.0.1:5432/app",
        admin="http://localhost:9187/metrics",
        docs="https://127.0.0.1.example.org:5432/",  # not a loopback host: stays
        user="u",
    )
    assert loopback_ports(db) == {5432, 9187}
    seen = seen_inside(db, {5432: ("172.18.0.1", 5432), 9187: ("172.18.0.1", 40001)})
    assert seen.as_dict() == {
        "host": "172.18.0.1",
        "port": 5432,
        "dsn": "postgresql://u:secret@172.18.0.1:5432/app",
        "admin": "http://172.18.0.1:40001/metrics",
        "docs": "https://127.0.0.1.example.org:5432/",
        "user": "u",
    }
    web = Handle(host="127.0.0.1", port=49153, url="http://127.0.0.1:49153")
    assert seen_inside(web, {49153: ("web", 80)}).as_dict() == {
        "host": "web",
        "port": 80,
        "url": "http://web:80",
    }
    far = Handle(host="db.example.org", port=5432, url="postgresql://db.example.org:5432/x")
    assert loopback_ports(far) == set() and seen_inside(far, {}) is far


NEVER_READY = """
[services.slow]
kind = "container"
engine = "URL"
image = "IMAGE"
command = ["sh", "-c", "echo waiting; exec sleep 600"]
ready = { log = "never said" }
start_timeout = 120
stop = { grace = 0.4 }
"""


async def test_a_start_cancelled_half_way_leaves_no_container_network_or_volume(
    tmp_path: Path, make_stack: Any, docker_url: str, volume_image: str, docker_client: Any
) -> None:
    profile = NEVER_READY.replace("URL", docker_url).replace("IMAGE", volume_image)
    stack = await make_stack(tmp_path, profile)
    starting = asyncio.create_task(stack.start())
    mine = {"label": f"{STACK_LABEL}={stack.stack_id}"}
    await until(lambda: bool(docker_client.containers.list(sparse=True, filters=mine)), timeout=30)
    assert len(of_stack(docker_client.volumes, stack)) == 1  # (the image's VOLUME)
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await starting
    await stack.close()
    assert docker_client.containers.list(all=True, sparse=True, filters=mine) == []
    assert of_stack(docker_client.networks, stack) == []
    assert of_stack(docker_client.volumes, stack) == []


ON_A_DATA_KIND = """
[services.cache]
kind = "redis"
source = "container"
engine = "URL"
image = "VALKEY"

[services.asker]
kind = "container"
engine = "URL"
image = "IMAGE"
depends_on = ["cache"]
env = { R = "${cache.url}", A = "${cache.host} ${cache.port}", Q = "PING\\\\r\\\\n" }
command = ["sh", "-c", "echo r=$R; printf $Q | busybox nc -w 2 $A; echo asked; sleep 60"]
ready = { log = "asked" }
stop = { grace = 0.4 }
"""


async def test_a_container_reaches_a_data_kind_run_from_an_image_by_its_name(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, valkey_image: str
) -> None:
    """A dependency run by another kind's container (found by the stack's labels, whatever
    its handle holds) is reached at its alias and container port, not through the host."""
    profile = ON_A_DATA_KIND.replace("URL", docker_url).replace("VALKEY", valkey_image)
    stack = await make_stack(tmp_path, profile.replace("IMAGE", busybox))
    await stack.start()
    said = lines(stack, "asker")
    assert "r=redis://cache:6379/0" in said and "+PONG" in said, said
    assert stack.handle("cache").url.startswith("redis://127.0.0.1:")  # the host's view, kept
    await stack.close()
