"""container kind at its edges (review of issue 24): a host path that is missing is refused, not
made by the engine; builds of the same context with other args never share a tag; a container
without ports has no url; no engine is said in words, without a source line; a container
started from the compiled profile (its options as plain data) runs as from the full path. Real
containers on a real engine (tests/docker_fixtures.py)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from stackfixtures.errors import StackError, StartError

from .cli_helpers import run_stack
from .conftest import write_project
from .test_kind_container_options import dockerfile, entry

pytestmark = pytest.mark.slow  # starts containers (tests/spawns.py)


QUIET = 'command = ["sh", "-c", "trap \'exit 0\' TERM; echo up; while true; do sleep 0.1; done"]'


async def test_a_missing_host_path_is_refused_naming_the_volume_not_made(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str, docker_client: Any
) -> None:
    project = tmp_path / "project"
    body = f'{QUIET}\nvolumes = ["./here:/h", "../../tpyo/deep:/d"]'
    (project / "profiles" / "here").mkdir(parents=True)
    stack = await make_stack(project, entry(docker_url, busybox, body))
    with pytest.raises(StartError) as caught:
        await stack.start()
    said = str(caught.value)
    assert "web" in said and "volumes[1]" in said and f"{tmp_path / 'tpyo' / 'deep'}" in said
    assert not (tmp_path / "tpyo").exists()  # never made (the engine would, as root, 0755)
    mine = {"label": f"io.stackfixtures.project={project}"}
    assert docker_client.containers.list(all=True, sparse=True, filters=mine) == []


async def test_builds_of_one_context_with_other_args_keep_their_own_images(
    tmp_path: Path, docker_url: str, busybox: str, docker_client: Any
) -> None:
    """Two profiles of one project, one service name, the same context, other build args: each
    container runs the image built with its own args, tagged apart (the tag was of the context
    and Dockerfile only: the second build took the first's tag)."""
    from stackfixtures import Stack
    from stackfixtures import _project as projects

    dockerfile(tmp_path, f"FROM {busybox}\nARG WORD\nENV WORD=$WORD\n")
    handles, stacks = {}, []
    try:
        for word in ("one", "two"):
            body = f'build = {{ context = "../img", args = {{ WORD = "{word}" }} }}\n{QUIET}'
            write_project(tmp_path, entry(docker_url, "", body), word)
            graph = projects.load(word, root=tmp_path).graph
            stacks.append(Stack(graph, state_dir=tmp_path / f"state-{word}", root=tmp_path))
            handles[word] = (await stacks[-1].start())["web"]
        assert handles["one"].image != handles["two"].image
        for word, handle in handles.items():
            running = docker_client.containers.get(handle.container_id)
            assert f"WORD={word}" in running.attrs["Config"]["Env"]
            assert docker_client.images.get(handle.image).id == running.image.id
    finally:
        for stack in stacks:
            await stack.close()
        for handle in handles.values():
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(handle.image, force=True)


async def test_a_container_without_ports_has_no_url(
    tmp_path: Path, make_stack: Any, docker_url: str, busybox: str
) -> None:
    stack = await make_stack(tmp_path, entry(docker_url, busybox, QUIET))
    handle = (await stack.start())["web"]
    assert handle.port is None and handle.url is None
    await stack.close()


def test_the_url_of_a_container_without_ports_is_a_problem(
    tmp_path: Path, docker_url: str, busybox: str
) -> None:
    caller = """
[services.caller]
command = "true"
depends_on = ["web"]
env = { U = "${web.url}" }
"""
    write_project(tmp_path, entry(docker_url, busybox, QUIET) + caller)
    said = run_stack(["validate", "-p", "dev"], tmp_path)
    assert said.returncode != 0
    assert "web.url" in said.stdout + said.stderr


async def test_no_engine_is_said_in_words_without_a_source_line(
    tmp_path: Path, make_stack: Any
) -> None:
    gone = tmp_path / "no-such-engine.sock"
    stack = await make_stack(tmp_path, entry(f"unix://{gone}", "busybox", QUIET))
    with pytest.raises(StackError) as caught:
        await stack.start()
    said = str(caught.value)
    assert f"no container engine answers at unix://{gone}" in said
    assert "raised KindUnavailable" not in said and "engine.py" not in said, said


async def test_a_container_from_the_compiled_profile_runs_as_from_the_full_path(
    tmp_path: Path,
    docker_url: str,
    busybox: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hit gives the kind its options as plain data (no model): the build and its args, the
    host path anchored where the profile is, the ready table (an exec inside) and our
    healthcheck still reach the engine."""
    from stackfixtures import Stack
    from stackfixtures import _project as projects

    dockerfile(tmp_path, f"FROM {busybox}\nARG WORD\nENV WORD=$WORD\n")
    (tmp_path / "profiles" / "site").mkdir(parents=True)
    (tmp_path / "profiles" / "site" / "index.html").write_text("from the host\n")
    body = """build = { context = "../img", args = { WORD = "${name}-built" } }
command = ["httpd", "-f", "-p", "80", "-h", "/www"]
ports = { "80" = "${port}" }
volumes = ["./site:/www:ro"]
healthcheck = { test = ["CMD-SHELL", "test -f /www/index.html"], interval = 0.2 }
ready = { http = "http://127.0.0.1:${port}/", exec = ["sh", "-c", "test -n \\"$WORD\\""] }
"""
    write_project(tmp_path, entry(docker_url, "", body))
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("STACKFIXTURES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STACKFIXTURES_TRACE_LOAD", str(trace))
    projects.load("dev", root=tmp_path, cache=True)
    proj = projects.load("dev", root=tmp_path, cache=True)
    assert [json.loads(line)["path"] for line in trace.read_text().splitlines()] == [
        "miss",
        "hit",
    ]
    stack = Stack(proj.graph, state_dir=tmp_path / "state", root=tmp_path)
    handle = None
    try:
        handle = (await stack.start())["web"]
        assert httpx.get(handle.url).text == "from the host\n"
        running = docker_client.containers.get(handle.container_id)
        assert "WORD=web-built" in running.attrs["Config"]["Env"]
        assert running.attrs["State"]["Health"]["Status"] == "healthy"
    finally:
        await stack.close()
        if handle is not None:
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(handle.image, force=True)
