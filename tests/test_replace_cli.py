"""`stack run --replace NAME=URL` and `stack exec --replace`: one service of the real graph is an
endpoint that already runs (here a Redis-compatible server the test starts itself); everything
else starts for real, and what depended on the replaced service gets its URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from .cli_helpers import StackProcess, run_stack
from .conftest import write_project
from .outside import redis_server, serves

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.cache]
kind = "redis"

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["cache"]
env = { REDIS_URL = "${cache.url}" }
ready = { http = "http://127.0.0.1:${port}/health" }

[services.other]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
"""


@pytest.fixture
def outside(tmp_path: Path) -> str:
    with redis_server(tmp_path / "outside") as url:
        yield url  # type: ignore[misc]


def test_run_replace_starts_the_rest_and_env_shows_the_url(tmp_path: Path, outside: str) -> None:
    write_project(tmp_path, PROFILE)
    run = StackProcess(["run", "-p", "dev", "--no-tui", "--replace", f"cache={outside}"], tmp_path)
    try:
        run.wait_for("[stack] ready")
        env = json.loads(run_stack(["env", "--format", "json"], tmp_path).stdout)
        assert env["CACHE_URL"] == env["REDIS_URL"] == outside  # the conventional name too
        reply = httpx.get(env["WEB_URL"] + "/env/REDIS_URL", trust_env=False).json()
        assert reply["value"] == outside
        status = json.loads(run_stack(["status", "--json"], tmp_path).stdout)
        rows = {r["name"]: r for r in status["services"]}
        assert rows["cache"]["kind"] == "external" and rows["cache"]["pid"] is None
        assert status["stack"]["replaced"] == {"cache": outside}
        assert f"cache | [stackfixtures] external {outside}: redis PING" in run.output  # probed
        run.signal()
        assert run.finish() == 0
    finally:
        run.kill()
    assert serves(outside)  # an endpoint that already ran is never stopped


def test_exec_replace_gives_the_command_and_the_graph_the_url(tmp_path: Path, outside: str) -> None:
    write_project(tmp_path, PROFILE)
    check = (
        "import os, httpx; web = os.environ['WEB_URL']; "
        "print(os.environ['REDIS_URL'], httpx.get(web + '/env/REDIS_URL', trust_env=False)"
        ".json()['value'])"
    )
    args = ["exec", "-p", "dev", "-s", "web", "--replace", f"cache={outside}", "--"]
    result = run_stack([*args, sys.executable, "-c", check], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [outside, outside]
    assert serves(outside)


def test_replace_mistakes_fail_before_anything_starts(tmp_path: Path) -> None:
    profile = write_project(
        tmp_path, PROFILE.replace('"${cache.url}" }', '"${cache.url}", REDIS_DB = "${cache.db}" }')
    )
    lacking = run_stack(
        ["run", "-p", "dev", "--no-tui", "--replace", "cache=http://127.0.0.1:9/"], tmp_path
    )
    assert lacking.returncode == 2, lacking.stdout + lacking.stderr
    line = next(n for n, t in enumerate(profile.read_text().splitlines(), 1) if "REDIS_DB" in t)
    assert (
        f"profiles/dev.toml:{line}:" in lacking.stderr
        and "services.web.env.REDIS_DB: ${cache.db}: the replacement of 'cache' "
        "(http://127.0.0.1:9/) has no 'db'"
        in lacking.stderr
    )
    assert "starting" not in lacking.stdout  # nothing started
    unknown = run_stack(
        ["exec", "-p", "dev", "--replace", "cahce=redis://127.0.0.1:1/0", "--", "true"], tmp_path
    )
    assert unknown.returncode == 2
    assert "--replace cahce=redis://127.0.0.1:1/0: unknown service 'cahce'" in unknown.stderr
    assert "did you mean 'cache'?" in unknown.stderr
    malformed = run_stack(["exec", "-p", "dev", "--replace", "cache", "--", "true"], tmp_path)
    assert malformed.returncode == 2 and "write NAME=URL" in malformed.stderr
    not_a_url = run_stack(
        ["exec", "-p", "dev", "--replace", "cache=localhost", "--", "true"], tmp_path
    )
    assert not_a_url.returncode == 2 and "'localhost' is not a URL" in not_a_url.stderr


def test_replacing_what_nothing_uses_is_a_warning(tmp_path: Path) -> None:
    write_project(tmp_path, PROFILE)
    args = ["exec", "-p", "dev", "-s", "other", "--replace", "cache=redis://127.0.0.1:1/0"]
    result = run_stack([*args, "--", "true"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "[stack] warning: --replace cache: nothing started uses 'cache', so the replacement "
        "changes nothing" in result.stderr
    )


def test_exec_on_a_running_stack_refuses_a_replace_it_was_not_started_with(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, PROFILE)
    assert run_stack(["up", "-p", "dev", "other"], tmp_path).returncode == 0
    try:
        refused = run_stack(
            ["exec", "--replace", "cache=redis://127.0.0.1:1/0", "--", "true"], tmp_path
        )
        assert refused.returncode == 2
        assert "a stack already runs (nothing replaced)" in refused.stderr
        assert run_stack(["exec", "--", "true"], tmp_path).returncode == 0
    finally:
        run_stack(["down"], tmp_path)
