"""A private Podman service for the tests: `podman system service` on a socket in a fresh
0700 dir, with its own storage (vfs: no mounts left) and run roots there, stopped by its pid
at the end, the dir removed. The busybox test image is imported into it (Podman's import
drops the tag: tagged after)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .docker_engine import IMAGE, Unavailable, busybox_image, serving

START_BOUND = 30.0
EXIT_DELAY = 1
CONF = f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
exit_command_delay = {EXIT_DELAY}
"""
"""Podman's settings here (issue 24: crun fails on this cgroup layout, and its default ulimits
exceed the sandbox's). `exit_command_delay`: each exec (a probe's, a healthcheck's) leaves its
conmon waiting that long for the API to read its exit code, 5 minutes by default: hundreds of
processes after a minute of exec probes."""


@contextlib.contextmanager
def podman_service() -> Iterator[str]:
    """The URL of a private Podman service (Unavailable, saying why, when there is none)."""
    podman = shutil.which("podman")
    if podman is None:
        raise Unavailable("no podman: apt-get install podman (as root here: runc, see issue 24)")
    home = Path(tempfile.mkdtemp(prefix="sf-podman-"))  # 0700, a name nobody can predict
    url = f"unix://{home}/podman.sock"
    roots = ["--root", str(home / "root"), "--runroot", str(home / "run")]
    argv = [podman, *roots, "--storage-driver", "vfs", "system", "service", "--time=0", url]
    (home / "containers.conf").write_text(CONF)
    env = {"CONTAINERS_CONF": str(home / "containers.conf")}
    try:
        with serving(argv, url, home, "podman", START_BOUND, env):
            yield url
    finally:  # the last execs' exit commands (`podman --root HOME/root container cleanup`)
        time.sleep(EXIT_DELAY + 1)  # run after their delay, making HOME again: then removed
        shutil.rmtree(home, ignore_errors=True)


def podman_busybox(url: str) -> str:
    """The busybox test image in the Podman service at `url`."""
    import docker

    client = docker.DockerClient(base_url=url)
    try:
        busybox_image(client)
        repository, tag = IMAGE.rsplit(":", 1)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(f"{repository}:latest").tag(repository, tag)
    finally:
        client.close()
    return IMAGE
