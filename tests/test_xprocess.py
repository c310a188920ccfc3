"""pytest-xprocess starters, read and run by the engine: ready by pattern, by startup_check(),
and depending on a built-in kind; under pytest and under `stack run`."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from .cli_helpers import StackProcess
from .conftest import HTTP_APP, PY

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

STARTERS = f"""
import os
import socket
import sys

from xprocess import ProcessStarter


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PatternStarter(ProcessStarter):
    port = free_port()
    pattern = "listening on"
    args = [{PY!r}, {HTTP_APP!r}, "--port", str(port), "--delay", "0.2"]
    timeout = 30
    terminate_on_interrupt = True


class CheckStarter(ProcessStarter):
    port = free_port()
    args = [{PY!r}, {HTTP_APP!r}, "--port", str(port)]
    env = {{"STARTED_BY": "check-starter"}}

    def startup_check(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


class NeedsRedisStarter(ProcessStarter):
    port = free_port()
    pattern = "listening on"
    args = [{PY!r}, {HTTP_APP!r}, "--port", str(port)]


class Undecided(ProcessStarter):
    args = [{PY!r}, "-c", "import time; time.sleep(60)"]
"""

PROFILE = """
[stack]
services = ["by_pattern", "by_check", "with_redis"]

[services.redis]
kind = "redis"

[services.by_pattern]
kind = "xprocess"
starter = "helpers:PatternStarter"

[services.by_check]
kind = "xprocess"
starter = "helpers:CheckStarter"
stop = { signal = "SIGINT", grace = 5 }

[services.with_redis]
kind = "xprocess"
starter = "helpers:NeedsRedisStarter"
depends_on = ["redis"]
env = { REDIS_URL = "${redis.url}" }
"""

TESTS = """
import httpx


def test_pattern(by_pattern):
    assert httpx.get(f"http://127.0.0.1:{by_pattern.port}/health").status_code == 200


def test_check(by_check):
    env = httpx.get(f"http://127.0.0.1:{by_check.port}/env/STARTED_BY").json()
    assert env["value"] == "check-starter"


def test_with_a_builtin_dependency(with_redis, redis):
    env = httpx.get(f"http://127.0.0.1:{with_redis.port}/env/REDIS_URL").json()
    assert env["value"] == redis.url
"""


def project(root: Path) -> None:
    (root / "helpers.py").write_text(STARTERS)
    (root / "profiles").mkdir(exist_ok=True)
    (root / "profiles" / "dev.toml").write_text(PROFILE)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")


def test_starters_as_fixtures(pytester: pytest.Pytester) -> None:
    project(pytester.path)
    pytester.makepyfile(test_starters=TESTS)
    result = pytester.runpytest_subprocess(
        "--stack-profile", "dev", "-p", "no:cacheprovider", "-p", "no:xprocess"
    )
    result.assert_outcomes(passed=3)


def test_the_same_starters_under_stack_run(tmp_path: Path) -> None:
    project(tmp_path)
    p = StackProcess(["run", "--profile", "dev"], cwd=tmp_path)
    try:
        p.wait_for("NAME", timeout=60)
        p.signal(signal.SIGINT)
        assert p.finish() == 0, p.output
        out = p.output
        assert "by_check: stopping -> stopped  (graceful)" in out
        assert out.index("with_redis: stopping -> stopped") < out.index("[stack] redis: ready ->")
    finally:
        p.kill()


def test_one_line_migration_in_python(pytester: pytest.Pytester) -> None:
    (pytester.path / "helpers.py").write_text(STARTERS)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makeconftest(
        textwrap.dedent("""
        from helpers import PatternStarter
        from stackfixtures.kinds.xprocess import from_starter

        server = from_starter(PatternStarter, name="server")
    """)
    )
    pytester.makepyfile(
        test_one="""
        import httpx

        def test_server(server):
            assert server.starter == "PatternStarter"
            assert httpx.get(f"http://127.0.0.1:{server.port}/health").status_code == 200
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xprocess")
    result.assert_outcomes(passed=1)


def test_a_starter_that_cannot_tell_readiness_is_an_error(pytester: pytest.Pytester) -> None:
    project(pytester.path)
    (pytester.path / "profiles" / "dev.toml").write_text(
        '[services.mute]\nkind = "xprocess"\nstarter = "helpers:Undecided"\n'
    )
    pytester.makepyfile(test_mute="def test_mute(mute):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--stack-profile", "dev", "-p", "no:cacheprovider", "-p", "no:xprocess"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Undecided has neither a pattern nor a startup_check()*"])
