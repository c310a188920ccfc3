"""The `slow` marker is truthful: an unmarked test that starts a process fails (tests/spawns.py),
so `pytest -m "not slow"` is the tier that starts nothing."""

from __future__ import annotations

import pytest

# Its inner pytest runs start `true`: the audit hook counts them for this test too.
pytestmark = pytest.mark.slow

INNER = """
import asyncio
import subprocess

import pytest


@pytest.fixture(scope="session")
def server():
    subprocess.run(["true"], check=True)  # a session service, started by its first user
    return "up"


def test_pure():
    assert sum(range(4)) == 6


def test_unmarked_spawn():
    subprocess.run(["true"], check=True)


@pytest.mark.slow
def test_marked_spawn():
    subprocess.run(["true"], check=True)


async def test_unmarked_asyncio_spawn():
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0


@pytest.mark.slow
def test_marked_first_user(server):
    assert server == "up"


def test_unmarked_later_user(server):  # starts nothing now: its fixture did, for another test
    assert server == "up"


@pytest.fixture
def per_test(request):  # starts a process only for a slow test, set up again for each
    if request.node.get_closest_marker("slow"):
        subprocess.run(["true"], check=True)


@pytest.mark.slow
def test_marked_per_test(per_test):
    pass


def test_unmarked_per_test(per_test):  # its fixture starts nothing for it
    pass


@pytest.fixture
def cleaned_up_by_a_process():
    yield
    subprocess.run(["true"], check=True)  # (e.g. `stack down` in a fixture's teardown)


def test_unmarked_teardown_spawn(cleaned_up_by_a_process):
    pass


@pytest.mark.slow
def test_marked_teardown_spawn(cleaned_up_by_a_process):
    pass
"""


def test_an_unmarked_test_that_starts_a_process_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = pytester.runpytest("-p", "tests.spawns", "-p", "no:xdist")
    reports = result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
    outcomes = {r.nodeid.split("::")[1]: r.outcome for r in reports if r.when == "call"}
    torn_down = {r.nodeid.split("::")[1]: r.outcome for r in reports if r.when == "teardown"}
    assert outcomes == {
        "test_pure": "passed",
        "test_unmarked_spawn": "failed",
        "test_marked_spawn": "passed",
        "test_unmarked_asyncio_spawn": "failed",
        "test_marked_first_user": "passed",
        "test_unmarked_later_user": "failed",
        "test_marked_per_test": "passed",
        "test_unmarked_per_test": "passed",
        "test_unmarked_teardown_spawn": "passed",
        "test_marked_teardown_spawn": "passed",
    }
    assert torn_down["test_unmarked_teardown_spawn"] == "failed"
    assert torn_down["test_marked_teardown_spawn"] == "passed"
    assert [n for n, outcome in torn_down.items() if outcome == "failed"] == [
        "test_unmarked_teardown_spawn"
    ]
    result.stdout.fnmatch_lines(
        [  # (pytest shows errors, as at a teardown, before failures)
            "*ERROR at teardown of test_unmarked_teardown_spawn*",
            "this test starts processes (fixture cleaned_up_by_a_process's teardown: "
            "subprocess.Popen *'true'*)*",
            "*_ test_unmarked_spawn _*",
            "this test starts processes (subprocess.Popen *'true'*) but is not marked `slow`*",
            "*_ test_unmarked_asyncio_spawn _*",
            "this test starts processes (subprocess.Popen *'true'*)*",
            "*_ test_unmarked_later_user _*",
            "this test starts processes (fixture server: subprocess.Popen *'true'*)*",
        ]
    )
    assert pytester.runpytest("-p", "tests.spawns", "-m", "not slow", "-k", "pure").ret == 0
