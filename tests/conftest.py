"""Shared test helpers: a leak check after every test, and small real services to run."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest_plugins = ["pytester"]

RUN_MARK = "STACKFIXTURES_TEST_RUN"
os.environ[RUN_MARK] = uuid.uuid4().hex  # per process: each xdist worker checks its own
APPS = Path(__file__).parent / "apps"
HTTP_APP = str(APPS / "http_app.py")
PY = sys.executable


def leftovers() -> list[psutil.Process]:
    """Processes started by a stack during this test run that are still alive."""
    mine = os.environ[RUN_MARK]
    found = []
    for p in psutil.process_iter(["status"]):
        if p.info["status"] == psutil.STATUS_ZOMBIE or p.pid == os.getpid():
            continue
        try:
            env = p.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(RUN_MARK) == mine and "STACKFIXTURES_SERVICE" in env:
            found.append(p)
    return found


def wait_gone(timeout: float = 3.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = leftovers()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = leftovers()
    return left


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test: no process any stack started may still be alive."""
    yield
    if request.node.get_closest_marker("allow_leftovers"):
        return
    left = wait_gone()
    if left:
        desc = [f"{p.pid} {' '.join(p.cmdline())}" for p in left]
        for p in left:  # clean up by pid so one leak does not cascade into later tests
            p.kill()
        pytest.fail("processes left running by the stack:\n" + "\n".join(desc), pytrace=False)


def write_project(root: Path, profile: str, name: str = "dev") -> Path:
    """A project dir with pyproject.toml and profiles/<name>.toml holding `profile`."""
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'scratch'\nversion = '0'\n")
    path = root / "profiles" / f"{name}.toml"
    path.write_text(textwrap.dedent(profile).replace("{APP}", HTTP_APP).replace("{PY}", PY))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def make_stack() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await make_stack(root, profile)`: a Stack (not started) for a profile written at `root`.
    Every stack made is closed after the test, passed or failed."""
    from stackfixtures import Stack
    from stackfixtures import project as projects

    made: list[Stack] = []

    async def make(root: Path, profile: str, name: str = "dev") -> Stack:
        write_project(root, profile, name)
        proj = projects.load(name, root=root)
        stack = Stack(proj.graph, state_dir=root / "state", root=root)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        await stack.close()
