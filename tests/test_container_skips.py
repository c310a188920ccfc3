"""The container tests' skips are never silent (review 24, #9c): every skip of a container,
Podman or Compose test is named in the run's summary (xdist workers' too: read from the
reports), and where CI needs them (`STACKFIXTURES_NEED_DOCKER=1`) a missing docker-compose
binary is a failure, not a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # runs pytest in a process of its own

USES_COMPOSE = """
from tests import compose_binary

def test_compose():
    compose_binary.binary()
"""


@pytest.mark.parametrize("need", ["1", ""])
def test_a_missing_compose_binary_fails_where_containers_are_needed_and_is_named_otherwise(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, need: str
) -> None:
    fake = pytester.path / "fake"  # a `compose` package without its binary
    (fake / "compose").mkdir(parents=True)
    (fake / "compose" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", f"{fake}{os.pathsep}{ROOT}")
    monkeypatch.setenv("STACKFIXTURES_NEED_DOCKER", need)
    pytester.makepyfile(test_inner=USES_COMPOSE)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "tests.docker_fixtures")
    if need:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*docker-compose tests cannot run: docker-compose is not*"])
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["stackfixtures: docker-compose tests skipped: *"])


SKIPS = """
import pytest

def test_on_podman():
    pytest.skip("container tests on Podman skipped: podman cannot start here")
"""


def test_a_podman_skip_is_named_in_the_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_inner=SKIPS)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "tests.docker_fixtures")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["stackfixtures: container tests on Podman skipped: podman cannot start here"]
    )
