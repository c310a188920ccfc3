"""An export run by Docker Compose itself against a real engine: `docker-compose up --wait`
starts what `stack export compose` wrote (healthchecks, depends_on, service names as hosts,
a port published on loopback), and `down` removes it all."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from stackfixtures import _project as projects
from stackfixtures._export import compose

from . import compose_binary
from .conftest import write_project

pytestmark = pytest.mark.slow

PROFILE = """
[services.web]
kind = "container"
image = "IMAGE"
command = ["httpd", "-f", "-p", "80", "-h", "/www"]
port = PORT
ports = { "80" = "${port}" }
ready = { exec = ["busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${port}/"] }
stop = { grace = 1 }

[services.client]
kind = "container"
image = "IMAGE"
command = ["sh", "-c", "busybox wget -q -O /tmp/got ${web.url}/ && exec sleep 600"]
env = { WEB = "${web.url}" }
ready = { exec = ["sh", "-c", "test -s /tmp/got"] }
depends_on = ["web"]
stop = { grace = 1 }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_compose_runs_the_export(tmp_path: Path, docker_url: str, busybox: str) -> None:
    import docker

    port = _free_port()
    write_project(tmp_path, PROFILE.replace("IMAGE", busybox).replace("PORT", str(port)))
    out = tmp_path / "compose.yaml"
    out.write_text(yaml.safe_dump(compose.document(projects.load("dev", root=tmp_path))))
    name = f"stackfixtures-compose-out-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DOCKER_HOST": docker_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(compose_binary.binary()), "-f", str(out), "-p", name, *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    client = docker.DockerClient(base_url=docker_url)
    mine = {"label": f"com.docker.compose.project={name}"}
    try:
        up = run("up", "--wait", "--wait-timeout", "60")
        assert up.returncode == 0, up.stderr
        # the client fetched web by its service name (healthy only then); the host reaches
        # web at the published loopback port
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello from busybox\n"
        running = client.containers.list(sparse=True, filters=mine)
        assert sorted(c.attrs["Labels"]["com.docker.compose.service"] for c in running) == [
            "client",
            "web",
        ]
    finally:
        down = run("down", "--volumes")  # each stopped within its exported grace (1 s)
        left = client.containers.list(all=True, sparse=True, filters=mine)
        networks = client.networks.list(filters=mine)
        client.close()
    assert down.returncode == 0, down.stderr
    assert left == [] and networks == []
