"""A private Podman service for the tests: `podman system service` on a socket in a fresh
0700 dir, with its own storage (vfs: no mounts left) and run roots there, stopped by its pid
at the end, the dir removed. The busybox test image is imported into it (Podman's import
drops the tag: tagged after)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .docker_engine import IMAGE, Unavailable, _answers, _stop, _term_with_parent, busybox_image

START_BOUND = 30.0


@contextlib.contextmanager
def podman_service() -> Iterator[str]:
    """The URL of a private Podman service (Unavailable, saying why, when there is none)."""
    podman = shutil.which("podman")
    if podman is None:
        raise Unavailable("no podman (apt-get install podman; runc, see docs/containers-wip.md)")
    home = Path(tempfile.mkdtemp(prefix="sf-podman-"))
    url = f"unix://{home}/podman.sock"
    roots = ["--root", str(home / "root"), "--runroot", str(home / "run")]
    log = open(home / "podman.log", "wb")  # noqa: SIM115 (closed below, after the service)
    service = subprocess.Popen(
        [podman, *roots, "--storage-driver", "vfs", "system", "service", "--time=0", url],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_term_with_parent,
    )
    try:
        deadline = time.monotonic() + START_BOUND
        while not _answers(url):
            if service.poll() is not None or time.monotonic() > deadline:
                tail = (home / "podman.log").read_text(errors="replace")[-600:]
                raise Unavailable(f"podman system service did not answer; its log ends:\n{tail}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(service)
        log.close()
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
