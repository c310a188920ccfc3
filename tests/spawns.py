"""The fast tier's guard: a test that starts a process must be marked `slow`.

An audit hook (sys.addaudithook) counts every process this interpreter starts (subprocess,
asyncio's subprocesses, posix_spawn, fork, exec, os.system). A test not marked `slow` fails
when one was started during its setup or its call, or by the teardown of one of its own
(function-scoped) fixtures (an error at teardown), or when it uses a fixture whose setup
started one (in this test or in an earlier one: a session service started by a slow test is
still a spawning fixture for the fast tests that ask for it). So `pytest -m "not slow"` runs
only tests that start nothing, and a new spawning test cannot slip into it unmarked.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.spawn",
        "os.system",
    }
)
MARK = "slow"
_FIRST = pytest.StashKey[int]()  # how many had started when the test's setup began
_TORN = pytest.StashKey[list[str]]()  # what its fixtures' teardowns started

started: list[str] = []
"""What this interpreter started, in order (event and command, for the failure message)."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in EVENTS:
        what = args[1] if event in ("subprocess.Popen", "os.exec", "os.posix_spawn") else args
        started.append(f"{event} {what!r}"[:200])


sys.addaudithook(_audit)  # hooks cannot be removed: installed once, when conftest imports this

_spawning_fixtures: dict[Any, str] = {}
"""FixtureDefs wider than a function whose setup started a process (what it was), across the
whole session: a later test that uses one is served what that process runs."""


_teardown_began: dict[Any, int] = {}
"""Function-scoped FixtureDefs being torn down: how many had started when it began."""


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    before = len(started)
    try:
        return (yield)
    finally:
        if len(started) > before and fixturedef.scope != "function":  # (set up per test:
            _spawning_fixtures.setdefault(fixturedef, started[before])  # counted with it)
        if fixturedef.scope == "function":  # its finalizers run last-added first: this one
            fixturedef.addfinalizer(  # before its teardown, pytest_fixture_post_finalizer after
                lambda: _teardown_began.__setitem__(fixturedef, len(started))
            )


def pytest_fixture_post_finalizer(fixturedef: Any, request: pytest.FixtureRequest) -> None:
    first = _teardown_began.pop(fixturedef, None)
    if first is not None and len(started) > first:
        torn = request.node.stash.setdefault(_TORN, [])
        torn.append(f"fixture {fixturedef.argname}'s teardown: {started[first]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    result = yield
    torn = item.stash.get(_TORN, [])
    if item.get_closest_marker(MARK) is None and torn:
        _fail(torn[0])
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    item.stash[_FIRST] = len(started)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    if item.get_closest_marker(MARK) is None and (why := spawned(item)):
        _fail(why)
    return result


def _fail(why: str) -> None:
    pytest.fail(
        f"this test starts processes ({why}) but is not marked `{MARK}`: mark it "
        f"(`@pytest.mark.{MARK}`, or `pytestmark = pytest.mark.{MARK}` for the module) "
        "so that `pytest -m 'not slow'` stays the tier that starts nothing",
        pytrace=False,
    )


def spawned(item: pytest.Item) -> str:
    """What `item` started, or the fixture of it that started something (empty: nothing)."""
    first = item.stash.get(_FIRST, len(started))
    if len(started) > first:
        return started[first]
    info = getattr(item, "_fixtureinfo", None)
    for name, defs in (info.name2fixturedefs if info else {}).items():
        if defs and defs[-1] in _spawning_fixtures:
            return f"fixture {name}: {_spawning_fixtures[defs[-1]]}"
    return ""
