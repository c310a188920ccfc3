"""Session fixtures for the container tests: a real Docker engine and the busybox image.

Import them into a test module (`from .docker_fixtures import docker_url, busybox`). The
engine is the one already reachable or a private dockerd started for the session and stopped
by its pid at its end (tests/docker_engine.py); where none can be had, every test that asks
for it is skipped with the reason, and the summary says so in a line of its own (the hook
below: pytest shows skip reasons only with `-rs`), so container tests are never skipped
silently. CI must not skip them: `STACKFIXTURES_NEED_DOCKER=1` makes no engine a failure.

Under xdist (`-n 2`, the README's command) the controller gets the engine once, before its
workers start, and hands them its URL in DOCKER_HOST: one dockerd (and one set of test
images) for the run, stopped by its pid when the run ends. A run that deselects the slow tier
(`-m "not slow"`), where no container test can run, starts none.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for why in _skipped:
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
            why = f"container tests skipped: no Docker engine: {e}"
            if _need():
                pytest.fail(why.replace("skipped", "cannot run"))
            _skipped.append(why)
            pytest.skip(why)
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
