"""A failing test's report shows what its services logged, however the test reached them: by
fixture name, through the `stack` fixture, or on a `private_stack` of its own."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import DB_WEB, filled

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

TESTS = """
import httpx

def test_private(private_stack):
    web = private_stack.start("web")["web"]
    httpx.get(web.url + "/health?from=the-private-test")
    assert False, "deliberately"

def test_through_stack(stack):
    web = stack.handle("web")
    httpx.get(web.url + "/health?from=the-stack-test")
    assert False, "deliberately"
"""


def section(out: str, title: str) -> str:
    """The report section `title` of pytest's output (up to the next section or test)."""
    start = out.index(title)
    rest = out[start + len(title) :]
    ends = [i for i in (rest.find("\n---"), rest.find("\n___"), rest.find("\n===")) if i >= 0]
    return rest[: min(ends)] if ends else rest


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_reports_of_tests_driving_the_stack_show_its_logs(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(filled(DB_WEB))
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(test_fail=textwrap.dedent(TESTS))
    result = pytester.runpytest_subprocess(
        "--stack-profile", "dev", "-p", "no:cacheprovider", "-p", "no:randomly", *xdist
    )
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    private = section(out, "stackfixtures: web log (private stack)")
    assert "from=the-private-test" in private and "from=the-stack-test" not in private
    shared = section(out, "stackfixtures: web log during this test")
    assert "from=the-stack-test" in shared and "from=the-private-test" not in shared
