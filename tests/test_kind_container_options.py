"""container kind options: readiness inside the container (exec), the engine's healthcheck
(ours and the image's own), a build from a Dockerfile, named volumes and host paths. Real
containers on a real engine (tests/docker_fixtures.py), no registry."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from stackfixtures.errors import ProbeTimeout, StartError
from stackfixtures.kinds.container import engines

from .cli_helpers import run_stack
from .conftest import until, write_project
from .docker_engine import IMAGE, Unavailable
from .podman_engine import podman_busybox, podman_service

pytestmark = pytest.mark.slow  # starts containers (tests/spawns.py)


def entry(url: str, image: str, body: str, name: str = "web") -> str:
    return f"""
[services.{name}]
kind = "container"
engine = "{url}"
stop = {{ grace = 1 }}
{"" if not image else f'image = "{image}"'}
{body}
"""


HTTPD = 'command = ["sh", "-c", "sleep 0.3; touch /made-inside; exec httpd -f -p 80 -h /www"]'


async def test_ready_by_tcp_http_and_an_exec_run_inside_the_container(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    ready = """ports = { "80" = "${port}" }
volumes = ["${root}:/project:ro"]  # a template: rendered at start
[services.web.ready]
tcp = "${port}"
http = "http://127.0.0.1:${port}/"
exec = ["sh", "-c", "test -f /made-inside && test -f /project/pyproject.toml"]
"""
    stack = await make_stack(tmp_path, entry(docker_url, busybox, HTTPD + "\n" + ready))
    handle = (await stack.start())["web"]
    assert not Path("/made-inside").exists()  # the file only the container has
    assert httpx.get(handle.url).text == "hello from busybox\n"
    await stack.close()


async def test_an_exec_probe_that_fails_inside_says_so_when_it_times_out(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    body = """command = ["sh", "-c", "exec sleep 30"]
ready = { exec = "sh -c 'echo missing-inside >&2; test -f /never'", timeout = 1.5 }
"""
    stack = await make_stack(tmp_path, entry(docker_url, busybox, body))
    with pytest.raises(ProbeTimeout) as caught:
        await stack.start()
    assert "exec (in the container)" in str(caught.value)
    assert "exit 1: missing-inside" in str(caught.value)


async def test_our_healthcheck_is_run_by_the_engine_and_ready_when_healthy(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    body = (
        HTTPD
        + """
healthcheck = { test = ["CMD-SHELL", "test -f /made-inside"], interval = 0.2, retries = 50 }
"""
    )
    stack = await make_stack(tmp_path, entry(docker_url, busybox, body))
    handle = (await stack.start())["web"]
    seen = docker_client.containers.get(handle.container_id).attrs["State"]["Health"]
    assert seen["Status"] == "healthy"
    await stack.close()


async def test_an_unhealthy_container_fails_with_the_last_check_output(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    body = """command = ["sh", "-c", "exec sleep 30"]
healthcheck = { test = "echo not-yet-healthy; exit 1", interval = 0.2, retries = 3 }
"""
    stack = await make_stack(tmp_path, entry(docker_url, busybox, body))
    with pytest.raises(StartError) as caught:
        await stack.start()
    said = str(caught.value)
    assert "unhealthy after 3 failed checks of healthcheck echo not-yet-healthy" in said
    assert "the last: exit 1: not-yet-healthy" in said


async def test_a_start_timeout_says_the_healthchecks_last_answer_and_leaves_nothing(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    body = """command = ["sh", "-c", "exec sleep 30"]
start_timeout = 2
healthcheck = { test = "echo not-yet; exit 1", interval = 0.2, retries = 1000 }
"""
    stack = await make_stack(tmp_path, entry(docker_url, busybox, body))
    with pytest.raises(StartError) as caught:
        await stack.start()
    said = str(caught.value)
    assert "start timeout of 2s" in said and "last answer: starting (exit 1: not-yet)" in said
    mine = {"label": f"io.stackfixtures.stack={stack.stack_id}"}
    assert (
        docker_client.containers.list(all=True, sparse=True, filters=mine) == []
    )  # (it was left, stopped)


def dockerfile(root: Path, text: str, where: str = "img") -> Path:
    (root / where).mkdir(parents=True, exist_ok=True)
    (root / where / "Dockerfile").write_text(text)
    return root / where / "Dockerfile"


async def test_a_build_with_the_images_own_healthcheck(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    dockerfile(
        tmp_path,
        f'FROM {busybox}\nARG GREETING\nRUN echo "$GREETING" > /www/index.html\n'
        "HEALTHCHECK --interval=200ms CMD test -f /made-inside\n",
    )
    image = "stackfixtures-test/kind-options-built:1"
    body = f"""image = "{image}"
build = {{ context = "../img", args = {{ GREETING = "built-${{name}}" }} }}
{HTTPD}
ports = {{ "80" = "${{port}}" }}
healthcheck = "image"
"""  # the context is relative to the profile's own directory (profiles/)
    stack = await make_stack(tmp_path, entry(docker_url, "", body))
    try:
        handle = (await stack.start())["web"]
        assert httpx.get(handle.url).text == "built-web\n"
        running = docker_client.containers.get(handle.container_id)
        assert running.attrs["State"]["Health"]["Status"] == "healthy"
        await until(lambda: any("Successfully tagged" in line for line in log(stack)))
        await stack.close()
    finally:
        docker_client.images.remove(image, force=True)


def log(stack: Any, name: str = "web") -> list[str]:
    return list(stack.units[name].log.tail(200))


async def test_a_bad_dockerfile_fails_naming_it_with_the_builds_last_lines(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    path = dockerfile(tmp_path, f"FROM {busybox}\nRUN echo going-wrong; exit 3\n")
    body = 'build = { context = "../img" }\ncommand = ["sleep", "30"]'
    stack = await make_stack(tmp_path, entry(docker_url, "", body))
    with pytest.raises(StartError) as caught:
        await stack.start()
    said = str(caught.value)
    assert f"building {path} failed" in said
    assert "returned a non-zero code: 3" in said and "going-wrong" in said


async def test_healthcheck_of_the_image_when_it_has_none_says_so(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    body = 'command = ["sleep", "30"]\nhealthcheck = "image"'
    stack = await make_stack(tmp_path, entry(docker_url, busybox, body))
    with pytest.raises(StartError, match="has no HEALTHCHECK"):
        await stack.start()


def test_named_volumes_survive_a_restart_and_down_volumes_removes_only_them(
    tmp_path: Path, docker_url: str, busybox: str
) -> None:
    site, outside = tmp_path / "site", tmp_path / "outside"
    site.mkdir()
    (site / "keep").write_text("kept\n")
    outside.mkdir()  # a directory with content: what a delete that follows links would empty
    (outside / "theirs").write_text("not ours\n")
    link = f"ln -sfn {outside} /data/link"
    shell = f"trap 'exit 0' TERM; echo run >> /data/runs; {link}; sleep 300 & wait"
    body = f"""command = ["sh", "-c", "{shell}"]
volumes = ["data:/data", "../site:/site:ro"]  # a host path relative to the profile's dir
ready = {{ exec = ["sh", "-c", "test -f /data/runs && test -f /site/keep && ! touch /site/x"] }}
"""
    write_project(tmp_path, entry(docker_url, busybox, body, name="store"))
    volume = tmp_path / ".stack" / "dev" / "volumes" / "data"
    try:
        for runs in ("run\n", "run\nrun\n"):  # the second start sees the first one's data
            up = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
            assert up.returncode == 0, up.stdout + up.stderr
            assert (volume / "runs").read_text() == runs
            assert stat.S_IMODE(volume.stat().st_mode) == 0o700
            assert run_stack(["down"], tmp_path, timeout=120).returncode == 0
    finally:
        down = run_stack(["down", "--volumes"], tmp_path, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not volume.parent.exists()
    assert (site / "keep").read_text() == "kept\n" and not (site / "x").exists()
    assert (outside / "theirs").read_text() == "not ours\n"  # the link was not followed


@pytest.fixture(scope="module")
def podman_url() -> Iterator[str]:
    with contextlib.ExitStack() as held:
        try:
            url = held.enter_context(podman_service())
            podman_busybox(url)
        except Unavailable as e:
            pytest.skip(f"container tests on Podman skipped: {e}")
        yield url


async def test_engine_podman_runs_the_kind_with_its_options(
    tmp_path: Path, make_stack: Any, podman_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINER_HOST", podman_url)  # what engine = "podman" looks for first
    body = f"""{HTTPD}
volumes = ["data:/data"]
ports = {{ "80" = "${{port}}" }}
healthcheck = {{ test = "test -f /made-inside && echo seen > /data/seen", interval = 0.2 }}
ready = {{ http = "http://127.0.0.1:${{port}}/", exec = ["sh", "-c", "test -f /made-inside"] }}
"""
    stack = await make_stack(tmp_path, entry("podman", IMAGE, body))
    handle = (await stack.start())["web"]
    assert httpx.get(handle.url).text == "hello from busybox\n"
    assert (tmp_path / "state" / "volumes" / "data" / "seen").read_text() == "seen\n"
    await stack.close()


def test_engine_words_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    monkeypatch.setenv("CONTAINER_HOST", "unix:///nowhere/podman.sock")
    assert engines.resolve(None) == engines.resolve("auto") == "tcp://127.0.0.1:2375"
    assert engines.resolve("docker") == "tcp://127.0.0.1:2375"
    assert engines.candidates("podman")[0] == "unix:///nowhere/podman.sock"
    assert engines.resolve("unix:///x.sock") == "unix:///x.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert engines.candidates("docker") == ["unix:///var/run/docker.sock"]
    with pytest.raises(ValueError, match="is not an engine"):
        engines.check_engine("dockr")


def test_wrong_options_are_each_named_at_their_key(tmp_path: Path) -> None:
    from stackfixtures import _project as projects
    from stackfixtures.errors import ProfileError

    write_project(
        tmp_path,
        """
[services.a]
kind = "container"
command = ["true"]

[services.b]
kind = "container"
image = "x"
volumes = ["data", "data:relative", "bad name:/x", "./d:/x:rx"]
healthcheck = { test = ["true"] }
engine = "dockr"
""",
    )
    with pytest.raises(ProfileError) as caught:
        projects.load("dev", root=tmp_path)
    said = str(caught.value)
    assert "services.a: needs `image` (or `build`" in said
    for expected in (
        "services.b.volumes",
        "the path in the container must be absolute",
        "services.b.healthcheck",
        'a list starts with "CMD" or "CMD-SHELL"',
        "services.b.engine",
        "'dockr' is not an engine",
    ):
        assert expected in said, said


async def test_a_start_timeout_during_a_build_ends_the_build(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    ticks = "for i in $(seq 1 60); do echo tick-$i; sleep 0.5; done"
    dockerfile(tmp_path, f"FROM {busybox}\nRUN {ticks}\n")
    image = "stackfixtures-test/kind-options-cancelled:1"
    body = f'image = "{image}"\nbuild = {{ context = "../img" }}\nstart_timeout = 2'
    stack = await make_stack(tmp_path, entry(docker_url, "", body))
    with pytest.raises(StartError, match="start timeout of 2s"):
        await stack.start()

    def building() -> list[Any]:  # the build's step runs in a container of the base image
        return [
            c
            for c in docker_client.containers.list(all=True, sparse=True)
            if "tick-" in str(c.attrs)
        ]

    await until(lambda: not building(), timeout=15)  # the engine ended it (it runs 30 s)
    try:
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image)
    finally:  # (built after all: not to be left on the engine)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image, force=True)
