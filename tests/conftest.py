"""Shared test helpers: a leak check after every test, and small real services to run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from stackfixtures.pytest_plugin import session_stack_ids

from .cli_helpers import StackProcess, run_stack

# spawns: the `slow` marker's guard; docker_fixtures: a Docker engine and the busybox image;
# docker_images: postgres, valkey, nats images built from the local servers
pytest_plugins = ["pytester", "tests.spawns", "tests.docker_fixtures", "tests.docker_images"]

RUN_MARK = "STACKFIXTURES_TEST_RUN"
os.environ[RUN_MARK] = uuid.uuid4().hex  # per process: each xdist worker checks its own
SESSION_MARK = "STACKFIXTURES_TEST_SESSION"
os.environ.setdefault(SESSION_MARK, uuid.uuid4().hex)  # the whole run: workers inherit it
APPS = Path(__file__).parent / "apps"
HTTP_APP = str(APPS / "http_app.py")
PY = sys.executable


def leftovers(
    allowed_stacks: frozenset[str] = frozenset(), mark: str = RUN_MARK, under: str | None = None
) -> list[psutil.Process]:
    """Processes started by a stack during this test run that are still alive (except those of
    `allowed_stacks`: the session's own stacks, whose services outlive single tests), and any
    process of this run whose command line names `under` (a test's tmp_path): a launcher left
    running (a valkey server's own environ cannot tell: it writes its title over it)."""
    mine = os.environ[mark]
    found = []
    for p in psutil.process_iter(["status"]):
        if p.info["status"] == psutil.STATUS_ZOMBIE or p.pid == os.getpid():
            continue
        try:
            env = p.environ()
            if env.get(mark) != mine:
                continue
            if "STACKFIXTURES_SERVICE" in env:
                if env.get("STACKFIXTURES_STACK") not in allowed_stacks:
                    found.append(p)
            elif under is not None and any(under in arg for arg in p.cmdline()):
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def wait_gone(
    timeout: float = 3.0,
    allowed: frozenset[str] = frozenset(),
    mark: str = RUN_MARK,
    under: str | None = None,
) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = leftovers(allowed, mark, under)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = leftovers(allowed, mark, under)
    return left


def fail_with(left: list[psutil.Process], allowed: frozenset[str] = frozenset()) -> None:
    desc = [
        f"{p.pid} {p.environ().get('STACKFIXTURES_STACK')} {' '.join(p.cmdline())}" for p in left
    ]
    desc.append(f"(this session's own stacks: {', '.join(sorted(allowed)) or 'none'})")
    for p in left:  # clean up by pid so one leak does not cascade into later tests: a launcher
        with contextlib.suppress(psutil.NoSuchProcess):  # stops its services on SIGTERM
            p.terminate()
    _, alive = psutil.wait_procs(left, timeout=30)
    for p in alive:
        p.kill()
    pytest.fail("processes left running by the stack:\n" + "\n".join(desc), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """After everything, in the process that ran the session (the xdist controller, which
    tears the shared stack down last): not one process any stack of this run started."""
    yield
    if hasattr(session.config, "workerinput"):
        return
    left = wait_gone(timeout=10, mark=SESSION_MARK)
    if left:
        for p in left:
            print(f"LEFT RUNNING: {p.pid} {' '.join(p.cmdline())}")
            p.kill()
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test: no process a stack started may still be alive, except the services
    of the session's own stacks (they live as long as their fixture scope)."""
    yield
    allowed = frozenset(session_stack_ids(request.config))
    tmp = request.node.funcargs.get("tmp_path") if hasattr(request.node, "funcargs") else None
    left = wait_gone(allowed=allowed, under=str(tmp) if tmp is not None else None)
    if left:
        fail_with(left, allowed)


DB_WEB = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["db"]
ready = { http = "http://127.0.0.1:${port}/health" }
"""
"""The two-service profile many tests run: `web` (http probe) needs `db` (tcp probe); both
the test HTTP app. A test adds keys to `web` by appending lines (its table comes last)."""


def stubborn(grace: float, name: str = "stubborn") -> str:
    """A profile of one service that ignores SIGTERM, given `grace` seconds to stop."""
    return f"""
[services.{name}]
command = ["{{PY}}", "{{APP}}", "--port", "${{port}}", "--ignore-term"]
ready = {{ tcp = "${{port}}" }}
stop = {{ grace = {grace} }}
"""


def filled(profile: str) -> str:
    """A test profile with {PY} (this interpreter) and {APP} (the test HTTP app) filled in."""
    return textwrap.dedent(profile).replace("{APP}", HTTP_APP).replace("{PY}", PY)


def write_project(root: Path, profile: str, name: str = "dev") -> Path:
    """A project dir with pyproject.toml and profiles/<name>.toml holding `profile`."""
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'scratch'\nversion = '0'\n")
    path = root / "profiles" / f"{name}.toml"
    path.write_text(filled(profile))
    return path


def free_port() -> int:
    """A loopback port free now (for a profile that needs one fixed before it starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def module_stack(root: Path, mark: str, *up: str, profile: str = "") -> Iterator[str]:
    """A stack `stack up UP...` started for a module's tests (profile dev, written at `root`
    first when given): its processes carry a mark of their own (env `mark`), not a single
    test's, for the autouse check; after, it is stopped and its processes checked gone. Yields
    what `stack up` printed."""
    if profile:
        write_project(root, profile)
    os.environ[mark] = uuid.uuid4().hex
    env = {RUN_MARK: os.environ[mark]}
    try:
        started = run_stack(["up", *up], root, env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        yield started.stdout
    finally:
        run_stack(["down", "-p", "dev"], root)
        left = wait_gone(timeout=10, mark=mark)
        del os.environ[mark]
        assert not left, left


@pytest.fixture
async def make_stack() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await make_stack(root, profile)`: a Stack (not started) for a profile written at `root`.
    Every stack made is closed after the test, passed or failed."""
    from stackfixtures import Stack
    from stackfixtures import _project as projects

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


@pytest.fixture
def started() -> Iterator[list[StackProcess]]:
    """`stack` processes a test starts (append them): each killed, with its group, afterwards."""
    procs: list[StackProcess] = []
    yield procs
    for p in procs:
        p.kill()


def wait_until(check: Callable[[], bool], timeout: float = 60.0, step: float = 0.1) -> None:
    """Poll `check` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(step)


async def start_error(
    tmp_path: Path, service: Any, error: type[BaseException] = BaseException
) -> BaseException:
    """The error of `error`'s type that starting a stack of the one `service` raises (the
    stack closed after, whatever happened)."""
    import stackfixtures as sf

    graph = sf.Graph({service.name: service})
    stack = sf.Stack(graph, state_dir=tmp_path / "state", root=tmp_path)
    try:
        with pytest.raises(error) as info:
            await stack.start()
    finally:
        await stack.close()
    return info.value


async def until(check: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> None:
    """wait_until for a test running in an event loop (it keeps the loop going)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(step)
