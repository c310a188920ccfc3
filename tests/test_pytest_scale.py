"""pytest at scale, in real pytest subprocesses: one stack for all xdist workers (torn down
once, even when a worker dies), reuse across runs, service logs in failure reports."""

from __future__ import annotations

import json
import stat
import textwrap
from collections import Counter
from pathlib import Path

import psutil
import pytest

from stackfixtures._control.endpoint import find, read

from .conftest import HTTP_APP, PY

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

BACKEND = Path(__file__).parents[1] / "bench" / "apps" / "backend_per_test.toml"
"""The reference backend with per-test databases (bench/xdist.py times the same)."""

USERS = """
import httpx
import psycopg
import redis


def test_postgres_{n}(postgres_db):
    with psycopg.connect(postgres_db.dsn) as conn:
        conn.execute("CREATE TABLE t (v int)")  # would clash if two tests shared a database
        conn.execute("INSERT INTO t VALUES ({n})")
        assert conn.execute("SELECT v FROM t").fetchall() == [({n},)]


def test_redis_{n}(redis_db):
    client = redis.Redis.from_url(redis_db.url)
    assert client.dbsize() == 0  # nothing from any other test, on any worker
    client.set("k", "{n}")


def test_gateway_{n}(api_gateway):
    reply = httpx.post(api_gateway.url + "/tasks", json={{"payload": "{n}"}}, trust_env=False)
    assert reply.status_code == 201
"""


def backend_project(pytester: pytest.Pytester, files: int = 4) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(BACKEND.read_text())
    pytester.makepyprojecttoml(
        "[project]\nname = 'x'\nversion = '0'\n[tool.pytest.ini_options]\nstack_profile = 'dev'\n"
    )
    for n in range(files):
        pytester.makepyfile(**{f"test_users_{n}": USERS.format(n=n)})


def started(events_file: Path) -> Counter[str]:
    lines = [json.loads(x) for x in events_file.read_text().splitlines()]
    return Counter(e["service"] for e in lines if e["to"] == "starting")


def test_xdist_workers_share_one_stack_torn_down_once(pytester: pytest.Pytester) -> None:
    backend_project(pytester)
    base = pytester.path / "bt"
    result = pytester.runpytest_subprocess(
        "-n", "4", "-p", "no:cacheprovider", "--basetemp", str(base)
    )
    result.assert_outcomes(passed=12)
    shared = base / "stack-shared-single"
    counts = started(shared / "events.jsonl")
    assert counts == {"postgres": 1, "redis": 1, "nats": 1, "api_gateway": 1}
    stops = Counter(
        e["service"]
        for e in map(json.loads, (shared / "events.jsonl").read_text().splitlines())
        if e["to"] == "stopped"
    )
    assert stops == {"postgres": 1, "redis": 1, "nats": 1, "api_gateway": 1}
    assert find(shared)[0] is None  # the launcher is gone
    result.stdout.fnmatch_lines(["*stackfixtures startup critical chain*"])


def test_a_killed_worker_still_means_one_teardown(pytester: pytest.Pytester) -> None:
    backend_project(pytester, files=2)
    pytester.makepyfile(
        test_crash="""
        import os, signal

        def test_worker_dies(redis):
            os.kill(os.getpid(), signal.SIGKILL)
    """
    )
    base = pytester.path / "bt"
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--basetemp", str(base)
    )
    result.assert_outcomes(passed=6, failed=1)  # xdist reports the crashed worker's test
    result.stdout.fnmatch_lines(["*worker*crashed*"])
    events = base / "stack-shared-single" / "events.jsonl"
    stops = Counter(
        e["service"]
        for e in map(json.loads, events.read_text().splitlines())
        if e["to"] == "stopped"
    )
    assert stops == {"postgres": 1, "redis": 1, "nats": 1, "api_gateway": 1}
    assert started(events)["redis"] == 1


REUSE = f"""
[services.db]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}

[services.web]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = ["db"]
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}

[services.side]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = {{ db = "ignore" }}
ready = {{ tcp = "${{port}}" }}
env = {{ VERSION = "1" }}
"""


def test_reuse_attaches_next_run_and_restarts_only_what_changed(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    profile = pytester.path / "profiles" / "dev.toml"
    profile.write_text(REUSE)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_it="""
        import httpx

        def test_all(web, side):
            assert httpx.get(web.url + "/health").status_code == 200
            assert httpx.get(side.url + "/env/VERSION").json()["value"]
    """
    )
    args = ("--stack-profile", "dev", "--stack-reuse", "-p", "no:cacheprovider")
    events = pytester.path / ".stack" / "pytest-dev" / "events.jsonl"
    try:
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        assert started(events) == {"db": 1, "web": 1, "side": 1}
        ep = read(pytester.path / ".stack" / "pytest-dev")
        assert ep is not None and ep.alive()  # the launcher outlived the run
        lock = pytester.path / ".stack" / "pytest-dev" / "launch.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600  # private, as all a state dir holds
        running = {
            env.get("STACKFIXTURES_SERVICE")
            for p in psutil.process_iter(["environ"])
            if (env := p.info["environ"] or {}).get("STACKFIXTURES_STACK") == ep.stack_id
        }
        assert running == {"db", "web", "side"}  # and so did its services

        second = pytester.runpytest_subprocess(*args)
        second.assert_outcomes(passed=1)
        assert started(events) == {"db": 1, "web": 1, "side": 1}  # no service started again

        profile.write_text(REUSE.replace('VERSION = "1"', 'VERSION = "2"'))
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        assert started(events) == {"db": 1, "web": 1, "side": 2}  # only the changed one
    finally:
        off = pytester.runpytest_subprocess(
            "--stack-profile", "dev", "--stack-reuse=off", "-p", "no:cacheprovider", "--co", "-q"
        )
        assert off.ret == 0
    assert find(pytester.path / ".stack" / "pytest-dev")[0] is None


def test_failing_test_report_shows_what_its_services_logged(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(REUSE)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_fail=textwrap.dedent("""
        import time
        import httpx

        def test_passes_first(web, stack):
            httpx.get(web.url + "/health?from=the-passing-test")
            deadline = time.monotonic() + 10  # output arrives asynchronously: let it land
            while not any("the-passing-test" in line for line in stack.logs("web")):
                assert time.monotonic() < deadline
                time.sleep(0.01)

        def test_fails(web):
            httpx.get(web.url + "/health?from=the-failing-test")
            assert False, "deliberately"
    """)
    )
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    section = out[out.index("stackfixtures: web log during this test") :]
    assert "from=the-failing-test" in section
    assert "from=the-passing-test" not in section  # only what was logged while it ran


def test_breaking_a_shared_service_under_xdist_is_refused(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(REUSE)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_break="""
        import pytest
        from stackfixtures import StackError

        def test_refused(stack, db):
            with pytest.raises(StackError, match="shared by all pytest-xdist workers"):
                stack.kill("db")

        def test_private_stack_may_break_things(private_stack):
            private_stack.start("web")
            private_stack.kill("db")
            private_stack.wait_for("web", "stopped")
    """
    )
    result = pytester.runpytest_subprocess(
        "--stack-profile", "dev", "-n", "2", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
