"""Session fixtures for the container tests: a real Docker engine and the busybox image.

Import them into a test module (`from .docker_fixtures import docker_url, busybox`). The
engine is the one already reachable or a private dockerd started for the session and stopped
by its pid at its end (tests/docker_engine.py); where none can be had, every test that asks
for it is skipped with the reason, and the summary says so in a line of its own (the hook
below: pytest shows skip reasons only with `-rs`), so container tests are never skipped
silently (any skip whose reason starts with one of NAMED: Podman's, Compose's too). CI must
not skip them: `STACKFIXTURES_NEED_DOCKER=1` makes no engine (or no docker-compose) a failure.

Under xdist (`-n 2`, the README's command) the controller gets the engine once, before its
workers start, and hands them its URL in DOCKER_HOST: one dockerd (and one set of test
images) for the run, stopped by its pid when the run ends. A run that deselects the slow tier
(`-m "not slow"`), where no container test can run, starts none.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest

from . import docker_engine

if TYPE_CHECKING:  # (imported when a test asks for an engine: conftest loads this module)
    import docker

_skipped: list[str] = []  # why the engine could not be had (once per session)
_held = contextlib.ExitStack()  # the controller's engine, kept until the run ends
NO_ENGINE = "STACKFIXTURES_NO_DOCKER"  # the controller's reason, handed to its workers


def _need() -> bool:
    return os.environ.get("STACKFIXTURES_NEED_DOCKER") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """The xdist controller's engine, before any worker starts (they inherit DOCKER_HOST)."""
    controller = bool(config.getoption("numprocesses", None)) and not hasattr(config, "workerinput")
    if not controller or "not slow" in (config.option.markexpr or ""):
        return
    try:
        os.environ["DOCKER_HOST"] = _held.enter_context(docker_engine.engine())
    except docker_engine.Unavailable as e:
        why = f"container tests skipped: no Docker engine: {e}"
        if not _need():
            _skipped.append(why)
        os.environ[NO_ENGINE] = why  # workers skip (or fail) with it, without trying again


def pytest_unconfigure(config: pytest.Config) -> None:
    _held.close()  # (the controller's dockerd, if it started one: stopped by its pid)


NAMED = ("container tests", "docker-compose tests", "browser tests")
"""The skips the summary names: what the container, Podman and Compose tests skip with."""


def unavailable(why: str) -> NoReturn:
    """Skip with `why` (which starts with one of NAMED: the summary says it), or fail where
    CI needs the container tests to run (`STACKFIXTURES_NEED_DOCKER=1`)."""
    if _need():
        pytest.fail(why.replace("skipped", "cannot run"))
    pytest.skip(why)


def _skips_named(reporter: pytest.TerminalReporter) -> list[str]:
    """The NAMED reasons of the run's skips: xdist workers' too (their reports come back)."""
    found = []
    for report in reporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            why = str(longrepr[2]).removeprefix("Skipped: ")
            if why.startswith(NAMED):
                found.append(why)
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for why in dict.fromkeys([*_skipped, *_skips_named(terminalreporter)]):
        terminalreporter.write_line(f"stackfixtures: {why}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def docker_url() -> Iterator[str]:
    """The URL of a running Docker engine for the whole session."""
    with contextlib.ExitStack() as held:
        try:
            if os.environ.get(NO_ENGINE):
                raise docker_engine.Unavailable(os.environ[NO_ENGINE].split(": ", 2)[-1])
            url = held.enter_context(docker_engine.engine())
        except docker_engine.Unavailable as e:
            unavailable(f"container tests skipped: no Docker engine: {e}")
        yield url


@pytest.fixture(scope="session")
def docker_client(docker_url: str) -> Iterator[docker.DockerClient]:
    import docker

    client = docker.DockerClient(base_url=docker_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(docker_client: docker.DockerClient) -> str:
    """The busybox test image's name, built once per session (no registry)."""
    return docker_engine.busybox_image(docker_client)


VOLUME_IMAGE = "stackfixtures-test/kind-network-volume:1"


@pytest.fixture(scope="session")
def volume_image(docker_client: docker.DockerClient, busybox: str) -> str:
    """The busybox test image with a VOLUME (/data), built from a Dockerfile (no registry)."""
    import io

    dockerfile = f"FROM {busybox}\nVOLUME /data\n".encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=VOLUME_IMAGE, rm=True)
    return VOLUME_IMAGE
