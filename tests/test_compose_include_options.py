"""Compose in with the container kind's `build`, `volumes` and `healthcheck` options (built by
the kind-options part): these start only where the kind has them. A compose file whose image
is built from a Dockerfile (FROM the busybox test image, with a HEALTHCHECK of its own), bind
and named volumes, our healthcheck and the image's gating `service_healthy` dependents; and the
round trip through the whole project (every kind option validated)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from stackfixtures import _project as projects
from stackfixtures._export import compose as compose_export

from .compose_include_helpers import compose_schema, including, write_compose

__all__ = ["compose_schema"]  # a fixture

pytestmark = pytest.mark.slow  # builds an image, starts containers (tests/spawns.py)

ROOT = Path(__file__).resolve().parent.parent
BUILT = "stackfixtures-compose-in/site:1"

DOCKERFILE = """\
FROM {image}
ARG GREETING
RUN echo "built-$GREETING" > /built.txt
HEALTHCHECK --interval=1s --timeout=1s --retries=30 CMD test -f /data/written
"""

COMPOSE = """\
services:
  site:
    build: {{context: ./img, args: {{GREETING: hello}}}}
    image: {built}
    command: ["sh", "-c", "(sleep 2; cat /built.txt > /data/written) & exec httpd -f -p 80 -h /www"]
    ports: ["80"]
    volumes: ["data:/data", "./site:/www:ro"]
    stop_grace_period: 1s
  ours:
    image: {image}
    command: ["sh", "-c", "touch /tmp/up; exec sleep 600"]
    healthcheck: {{test: ["CMD", "cat", "/tmp/up"], interval: 500ms, retries: 60}}
    stop_grace_period: 1s
  after:
    image: {image}
    command: ["sh", "-c", "exec sleep 600"]
    stop_grace_period: 1s
    depends_on:
      site: {{condition: service_healthy}}
      ours: {{condition: service_healthy}}
volumes:
  data: {{}}
"""


async def test_build_volumes_and_healthchecks_from_a_compose_file(
    tmp_path: Path,
    compose_schema: dict[str, Any],
    docker_url: str,
    busybox: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_stack: Any,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_url)
    profiles = tmp_path / "profiles"
    (profiles / "img").mkdir(parents=True)
    (profiles / "img" / "Dockerfile").write_text(DOCKERFILE.format(image=busybox))
    (profiles / "site").mkdir()
    (profiles / "site" / "index.html").write_text("from the bind mount\n")
    text = COMPOSE.format(image=busybox, built=BUILT)
    write_compose(profiles / "compose.yaml", text, compose_schema)
    try:
        stack = await make_stack(tmp_path, '[stack]\ninclude = ["compose.yaml"]\n')
        await stack.start(["after"])  # once site (the image's check) and ours are healthy
        site, ours = stack.handle("site"), stack.handle("ours")
        for gate in (site, ours):  # `after` started only once both were healthy
            state = docker_client.containers.get(gate.container_id).attrs["State"]
            assert state["Health"]["Status"] == "healthy"
        assert httpx.get(site.url).text == "from the bind mount\n"
        mounts = {
            m["Destination"]: m
            for m in docker_client.containers.get(site.container_id).attrs["Mounts"]
        }
        assert mounts["/www"]["RW"] is False and mounts["/data"]["RW"] is True
        out = docker_client.containers.get(site.container_id).exec_run(["cat", "/data/written"])
        assert out.output == b"built-hello\n"  # the build arg, written into the named volume
        await stack.close()
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(BUILT, force=True)  # the image this test built


@pytest.mark.parametrize("profile", ["dev", "ci"])
def test_round_trip_through_the_whole_project(
    profile: str, tmp_path: Path, compose_schema: dict[str, Any]
) -> None:
    """The export of the reference backend, included: every kind option accepted, the same
    graph (names, edges and their policies, tasks)."""
    original = projects.load(profile, root=ROOT)
    text = yaml.safe_dump(compose_export.document(original), sort_keys=False)
    write_compose(tmp_path / "profiles" / "compose.yaml", text, compose_schema)
    including(tmp_path)
    back = projects.load("dev", root=tmp_path).graph
    graph = original.graph
    names = set(graph.closure(original.selected))
    assert set(back.closure(list(names))) == names
    for name in names:
        assert back.dependencies(name) == graph.dependencies(name)
        for dep in graph.dependencies(name):
            restart = graph[name].edge(dep) == "restart"
            assert (back[name].edge(dep) == "restart") is restart
        assert bool(back[name].task) == bool(graph[name].task)
