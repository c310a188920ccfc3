"""container kind: real containers on a real Docker engine (tests/docker_fixtures.py), ready by
real probes against the published port, stopped by the engine with the service's policy."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import socket
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from stackfixtures import State
from stackfixtures.errors import KindUnavailable, PortInUse, ProcessExited, StackError, StartError

from .conftest import until

pytestmark = pytest.mark.slow  # starts containers and dockerd (tests/spawns.py)

LABEL = "io.stackfixtures.stack"


def web(url: str, image: str, extra: str = "") -> str:
    return f"""
[services.web]
kind = "container"
engine = "{url}"
image = "{image}"
command = ["sh", "-c", "echo started-$GREETING; exec httpd -f -p 80 -h /www"]
env = {{ GREETING = "hello-${{port}}" }}
ports = {{ "80" = "${{port}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/" }}
stop = {{ grace = 1 }}  # httpd as pid 1 has no SIGTERM handler: killed after the grace
{extra}
"""


def lines(stack: Any, name: str) -> list[str]:
    return list(stack.units[name].log.tail(200))


async def test_http_container_ready_by_probe_labelled_logged_and_removed(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    stack = await make_stack(tmp_path, web(docker_url, busybox))
    handle = (await stack.start())["web"]
    assert httpx.get(handle.url).text == "hello from busybox\n"
    running = docker_client.containers.get(handle.container_id)
    assert running.labels[LABEL] == stack.stack_id
    [binding] = running.attrs["HostConfig"]["PortBindings"]["80/tcp"]
    assert binding == {"HostIp": "127.0.0.1", "HostPort": str(handle.port)}
    # the env rendered, the output in the service's log (streamed: it may follow readiness)
    await until(lambda: f"started-hello-{handle.port}" in lines(stack, "web"))
    await stack.stop(["web"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(handle.container_id)
    await stack.close()


SIGNALLED = """
[services.waiter]
kind = "container"
engine = "{url}"
image = "{image}"
command = ["sh", "-c", "TRAP; echo waiting; while true; do sleep 0.1; done"]
ready = {{ log = "waiting" }}
stop = {{ signal = "SIGUSR1", grace = 1 }}
"""


@pytest.mark.parametrize(
    ("trap", "said", "code"),
    [
        ("trap 'echo got-usr1; exit 0' USR1", "got-usr1", 0),  # graceful: the policy's signal
        ("trap '' USR1", None, 137),  # ignored: SIGKILL after the grace
    ],
)
async def test_stop_is_the_policy_signal_then_kill_after_the_grace(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, trap: str, said: str, code: int
) -> None:
    profile = SIGNALLED.format(url=docker_url, image=busybox).replace("TRAP", trap)
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    await stack.stop(["waiter"])
    log = lines(stack, "waiter")
    assert any(line.endswith(f"exited with {code}") for line in log), log
    assert (said in log) if said else not any("got-" in line for line in log)
    stopped = stack.units["waiter"].last_stop  # recorded as a process's stop is
    assert stopped is not None and stopped.graceful is (code == 0), stopped
    assert stopped.exit_codes == [code]
    assert code == 0 or stopped.processes[0].note == "grace 1s expired"
    await stack.close()


async def test_entrypoint_user_and_workdir(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    profile = SIGNALLED.format(url=docker_url, image=busybox).replace(
        'command = ["sh", "-c", "TRAP; echo waiting; while true; do sleep 0.1; done"]',
        'entrypoint = "sh -c"\ncommand = ["echo waiting as $(id -u) in $PWD; exec sleep 600"]'
        '\nuser = "65534"\nworkdir = "/tmp"',
    )
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    assert "waiting as 65534 in /tmp" in lines(stack, "waiter")
    await stack.close()


async def test_a_container_that_exits_before_ready_fails_at_once_with_its_output(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    profile = web(docker_url, busybox).replace("exec httpd -f -p 80 -h /www", "echo boom; exit 3")
    stack = await make_stack(tmp_path, profile)
    with pytest.raises(ProcessExited) as caught:
        await stack.start()
    assert "3" in str(caught.value) and "boom" in str(caught.value)
    await stack.close()


async def test_a_pinned_host_port_is_published_there(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = web(docker_url, busybox).replace('"80" = "${port}"', f'"80" = {port}')
    # a tcp probe
    profile = profile.replace('http = "http://127.0.0.1:${port}/"', f'tcp = "{port}"')
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    await stack.close()


async def test_a_pinned_host_port_that_is_taken_fails_at_once_naming_its_holder(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        profile = web(docker_url, busybox).replace('"80" = "${port}"', f'"80" = {port}')
        stack = await make_stack(tmp_path, profile)
        with pytest.raises(PortInUse) as caught:
            await stack.start()
    assert caught.value.port == port and str(os.getpid()) in caught.value.holder
    assert ours(docker_client, stack) == []  # refused before any container was made
    await stack.close()


async def test_a_container_the_engine_cannot_start_is_not_left(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    profile = web(docker_url, busybox).replace('["sh", "-c",', '["no-such-program", "-c",')
    stack = await make_stack(tmp_path, profile)
    with pytest.raises(StartError, match="no-such-program"):
        await stack.start()
    assert ours(docker_client, stack) == []
    await stack.close()


def ours(client: Any, stack: Any) -> list[Any]:
    return list(
        client.containers.list(
            all=True, sparse=True, filters={"label": f"{LABEL}={stack.stack_id}"}
        )
    )


async def test_a_container_that_exits_after_ready_is_a_crash_with_its_exit_code(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    profile = SIGNALLED.format(url=docker_url, image=busybox).replace("TRAP", "true")
    profile = profile.replace("while true; do sleep 0.1; done", "sleep 0.3; exit 4")
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    await until(lambda: stack.state("waiter") is State.FAILED, timeout=20)
    unit = stack.units["waiter"]
    assert unit.last_exit_code == 4
    assert re.search(r"container [0-9a-f]{12} exited with code 4", str(unit.last_error))
    await stack.close()


CHAIN = """
[services.api]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }

[services.check]
task = true
depends_on = ["web"]
command = ["{PY}", "-c", "import sys, urllib.request as u; u.urlopen(sys.argv[1])", "${web.url}"]
"""


async def test_a_container_between_process_services(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    """A container depending on a process service (its handle in the container's env, as the
    container reaches it: the stack's relay, tests/test_container_network.py) and a task
    depending on the container (its url, fetched from the host)."""
    web_ = web(docker_url, busybox).replace("hello-${port}", "${api.url}")
    stack = await make_stack(tmp_path, CHAIN + web_ + 'depends_on = ["api"]\n')
    handles = await stack.start(["check"])
    assert handles["check"].exit_code == 0  # it fetched the container's page
    relayed = re.compile(rf"started-http://[0-9.]+:{stack.handle('api').port}$")
    await until(lambda: any(relayed.match(line) for line in lines(stack, "web")))
    await stack.close()


async def test_a_crashed_container_is_restarted_as_a_new_one_and_each_removed(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    profile = SIGNALLED.format(url=docker_url, image=busybox).replace("TRAP", "true")
    profile = profile.replace("while true; do sleep 0.1; done", "sleep 0.3; exit 4")
    profile += 'restart = { policy = "on-failure", max_restarts = 1, delay = 0.1 }\n'
    stack = await make_stack(tmp_path, profile)
    await stack.start()
    unit = stack.units["waiter"]
    await until(lambda: unit.restarts == 1 and stack.state("waiter") is State.FAILED, timeout=30)

    def ended() -> list[str]:
        return [line for line in lines(stack, "waiter") if line.endswith("exited with 4")]

    await until(lambda: len(ended()) == 2)  # (its teardown follows the FAILED state)
    assert ended()[0] != ended()[1]  # two containers, one after the other
    await until(lambda: ours(docker_client, stack) == [])  # each removed when it ended
    await stack.close()


async def test_more_containers_than_the_default_thread_pool_has_threads(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    """Each container's output and exit are followed in a thread of its own, never in the
    loop's default pool (min(32, cpus + 4) threads): the pool stays free for everything else."""
    many = (concurrent.futures.ThreadPoolExecutor()._max_workers // 2) + 2
    one = SIGNALLED.format(url=docker_url, image=busybox).replace("TRAP", "true")
    stack = await make_stack(tmp_path, "".join(one.replace("waiter", f"w{i}") for i in range(many)))
    async with asyncio.timeout(60):  # (it hung for good when they shared the pool)
        handles = await stack.start()
    assert len(handles) == many
    await stack.close()


async def test_no_engine_says_how_to_get_one(tmp_path: Path, make_stack: Any) -> None:
    gone = tmp_path / "no-such-engine.sock"
    profile = web(f"unix://{gone}", "busybox")
    stack = await make_stack(tmp_path, profile)
    with pytest.raises(StackError) as caught:
        await stack.start()
    error = caught.value
    while not isinstance(error, KindUnavailable) and error.__cause__ is not None:
        error = error.__cause__  # type: ignore[assignment]
    assert "no container engine answers" in str(caught.value)
    assert "DOCKER_HOST" in str(caught.value)
    await stack.close()
