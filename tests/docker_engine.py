"""A real Docker engine for the container tests, and for CI (`.ci/with-docker`).

`engine()` is the one way in: an engine already reachable (DOCKER_HOST, or the default socket)
is used as it is; otherwise Debian's `docker.io` is installed when it is missing (apt-get) and
a private `dockerd` is started: its data root, exec root and socket in a fresh 0700 directory
(`tempfile.mkdtemp`, never a predictable name in a shared directory), waited for within a
bound, and stopped by its pid at the end (SIGTERM, then SIGKILL after a grace), even when what
ran meanwhile failed. Where none can be had, `Unavailable` says why (the tests skip with it).

`busybox_image(client)` builds the test image with no registry: a rootfs of Debian's static
busybox and symlinks for its applets, imported as one layer (`docker import`).

Run as `python -m tests.docker_engine -- COMMAND ...`: COMMAND runs with DOCKER_HOST set to
the engine; its exit status is this one's.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (imported when used: every test run loads this module, ~0.1 s saved)
    import docker

START_BOUND = 60.0  # seconds a fresh dockerd may take to answer
STOP_GRACE = 20.0  # seconds it may take to stop its containers and itself on SIGTERM
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "true", "false", "echo", "sleep", "httpd", "cat", "env", "ls", "kill", "id")
IMAGE = "stackfixtures-test/busybox:1"


class Unavailable(Exception):
    """No engine can be had here; the message says why and how to get one."""


def _answers(url: str) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=url, timeout=5)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError, ValueError):
        return False
    finally:
        client.close()


def _reachable() -> str | None:
    """The URL of an engine already running, if there is one."""
    for url in (os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock"):
        if url and _answers(url):
            return url
    return None


def _dockerd() -> str:
    """dockerd's path, installing Debian's docker.io first when it is missing (apt waits for
    the dpkg lock: xdist workers may all get here at once)."""
    found = shutil.which("dockerd")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("no Docker engine reachable, no dockerd, and apt-get cannot install it")
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "docker.io"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("dockerd")
    if done.returncode != 0:
        raise Unavailable(f"apt-get install docker.io failed: {done.stderr.strip()[-300:]}")
    if not found:
        raise Unavailable("docker.io is installed but dockerd is not on PATH (add /usr/sbin?)")
    return found


@contextlib.contextmanager
def _private_daemon() -> Iterator[str]:
    """Start dockerd in a private directory, yield its URL, stop it by its pid."""
    dockerd = _dockerd()
    home = Path(tempfile.mkdtemp(prefix="sf-dockerd-"))  # 0700, a name nobody can predict
    url = f"unix://{home}/docker.sock"
    argv = [dockerd, "-H", url, "--pidfile", str(home / "dockerd.pid"), *_roots(home)]
    with serving(argv, url, home, "dockerd", START_BOUND):
        yield url


@contextlib.contextmanager
def serving(
    argv: list[str],
    url: str,
    home: Path,
    what: str,
    bound: float,
    env: dict[str, str] | None = None,
) -> Iterator[None]:
    """Run the engine `argv` (its log in `home`; `env` added to ours), wait (`bound` s) until
    it answers at `url`, and at the end stop it by its pid and remove `home`."""
    log = open(home / f"{what}.log", "wb")  # noqa: SIM115 (closed below, after the daemon)
    daemon = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_term_with_parent,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + bound
        while not _answers(url):
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (home / f"{what}.log").read_text(errors="replace")[-600:]
                why = "exited" if daemon.poll() is not None else f"no answer in {bound:.0f} s"
                raise Unavailable(f"{what} {why}; its log ends:\n{tail}")
            time.sleep(0.2)
        yield
    finally:
        _stop(daemon)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _term_with_parent() -> None:
    """In the child, before exec: SIGTERM when its parent dies (a test run killed with
    SIGKILL still stops its dockerd, which then stops its containers)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _roots(home: Path) -> list[str]:
    return ["--data-root", str(home / "data"), "--exec-root", str(home / "exec")]


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the daemon's pid (it stops its containers and its containerd), SIGKILL to
    its process group after the grace."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)


@contextlib.contextmanager
def engine() -> Iterator[str]:
    """A reachable engine's URL for the duration (see the module's docstring)."""
    url = _reachable()
    if url is not None:
        yield url
        return
    with _private_daemon() as url:
        yield url


def busybox_image(client: docker.DockerClient) -> str:
    """The test image (IMAGE), built once per engine: busybox and its applets, no registry."""
    import docker

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(IMAGE)
        return IMAGE
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for d in ("bin", "tmp", "www"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        page = b"hello from busybox\n"
        info = tarfile.TarInfo("www/index.html")
        info.size, info.mode = len(page), 0o644
        tar.addfile(info, io.BytesIO(page))
    repository, tag = IMAGE.rsplit(":", 1)
    client.api.import_image_from_data(data.getvalue(), repository=repository, tag=tag)
    return IMAGE


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: python -m tests.docker_engine -- COMMAND ...", file=sys.stderr)
        return 2
    import docker

    with engine() as url:
        client = docker.DockerClient(base_url=url)
        try:
            busybox_image(client)
        finally:
            client.close()
        return subprocess.run(command, env={**os.environ, "DOCKER_HOST": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
