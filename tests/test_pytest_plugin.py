"""The pytest front door, exercised in a real pytest subprocess (pytester)."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import HTTP_APP, PY

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = f"""
[services.db]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
ready = {{ tcp = "${{port}}" }}

[services.web]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = ["db"]
env = {{ DB_PORT = "${{db.port}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}

[services.broken]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}", "--crash"]
ready = {{ tcp = "${{port}}" }}
"""


def setup_project(pytester: pytest.Pytester, ini_profile: bool = False) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(PROFILE)
    ini = '\n[tool.pytest.ini_options]\nstack_profile = "dev"\n' if ini_profile else ""
    pytester.makepyprojecttoml(f"[project]\nname = 'x'\nversion = '0'\n{ini}")


def test_service_is_a_fixture_with_a_working_handle(pytester: pytest.Pytester) -> None:
    setup_project(pytester)
    pytester.makepyfile(
        test_web="""
        import httpx

        def test_web(web, db):
            assert httpx.get(web.url + "/env/DB_PORT").json()["value"] == str(db.port)

        def test_same_session_instance(web, stack):
            assert str(stack.state("web")) == "ready" and str(stack.state("db")) == "ready"
    """
    )
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["stackfixtures: profile dev*services: db, web, broken"])


def test_ini_option_chooses_the_profile(pytester: pytest.Pytester) -> None:
    setup_project(pytester, ini_profile=True)
    pytester.makepyfile(test_db="def test_db(db):\n    assert db.port > 0\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_failed_service_errors_its_tests_and_the_session_goes_on(pytester: pytest.Pytester) -> None:
    setup_project(pytester)
    pytester.makepyfile(
        test_mixed="""
        def test_needs_broken(broken):
            pass

        def test_also_needs_broken(broken):
            pass

        def test_fine(db):
            assert db.port
    """
    )
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*service 'broken' (starting): process exited with code 3*",
            "*| http_app: crashing on purpose*",
        ]
    )


def test_python_services_scopes_and_reverse_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makeconftest(
        textwrap.dedent(f"""
        import stackfixtures as sf

        LOG = []

        @sf.service
        async def db():
            async with sf.spawn([{PY!r}, {HTTP_APP!r}, "--port", "${{port}}"],
                                ready=sf.probe.tcp()) as p:
                yield sf.Handle(port=p.port, pid=p.pid)
            LOG.append("db down")

        @sf.service(scope="function")
        def session_per_test(db):
            yield sf.Handle(db_pid=db.pid)
            LOG.append("per-test down")

        @sf.service(scope="module")
        async def per_module(db):
            async with sf.spawn([{PY!r}, {HTTP_APP!r}, "--port", "${{port}}"],
                                ready=sf.probe.http("/health")) as p:
                yield sf.Handle(pid=p.pid)
            LOG.append("module down")
    """)
    )
    pytester.makepyfile(
        test_a="""
        import conftest
        pids = []

        def test_one(session_per_test, per_module, db):
            pids.append((session_per_test.db_pid, per_module.pid))

        def test_two(session_per_test, per_module):
            pids.append((session_per_test.db_pid, per_module.pid))
            assert pids[0] == pids[1]
            assert conftest.LOG == ["per-test down"]
    """,
        test_b="""
        import conftest

        def test_three(per_module):
            assert conftest.LOG == ["per-test down", "per-test down", "module down"]

        def test_zzz_last():
            pass
    """,
    )
    pytester.makepyfile(
        test_zz_end="""
        import conftest

        def test_after_modules(db):
            assert conftest.LOG[-1] == "module down"
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=5)


def test_bad_profile_is_a_usage_error_naming_file_and_key(pytester: pytest.Pytester) -> None:
    setup_project(pytester)
    (pytester.path / "profiles" / "bad.toml").write_text("[services.a]\ncommand = ['x']\nwat = 1\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--stack-profile", "bad", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*profiles/bad.toml:3:1: services.a.wat: unknown key*"])
    assert "Traceback" not in result.stderr.str()


SUPERVISED = f"""
[services.db]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}
restart = {{ policy = "on-failure", backoff = "fixed", delay = 0.1, jitter = 0 }}
liveness = {{ http = "/health", period = 0.2, timeout = 0.5, failure_threshold = 3 }}

[services.web]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = {{ db = "restart" }}
env = {{ DB_PORT = "${{db.port}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}
"""


def test_fault_injection_from_a_test(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(SUPERVISED)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_faults="""
        import httpx

        def test_app_recovers_after_its_database_is_killed(stack, web, db):
            old = stack.metrics("db")["pid"]
            stack.kill("db")
            stack.wait_for("db", "ready")
            stack.wait_for("web", "ready")
            assert stack.metrics("db")["pid"] != old
            assert httpx.get(web.url + "/env/DB_PORT").json()["value"] == str(db.port)

        def test_pause_degrades_resume_recovers(stack, db):
            stack.pause("db")
            stack.wait_for("db", "degraded")
            stack.resume("db")
            stack.wait_for("db", "ready")

        def test_restart_by_hand(stack, web, db):
            before = stack.metrics("web")["restarts"]
            stack.restart("db")
            stack.wait_for("web", "ready")
            stack.wait_for("db", "ready")
            assert stack.metrics("web")["restarts"] == before + 1  # restarted with db
            assert httpx.get(web.url + "/health").status_code == 200
    """
    )
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_per_test_fixtures_come_without_declaring_them(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(
        """
[services.postgres]
kind = "postgres"
source = "wheel"

[services.cache]
kind = "redis"

[services.nats]
kind = "nats"
"""
    )
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_data="""
        import psycopg, redis

        seen = []

        def test_a_database_of_its_own(postgres, postgres_db):
            assert postgres_db.dbname != postgres.dbname
            with psycopg.connect(postgres_db.dsn) as conn:
                conn.execute("CREATE TABLE t (x int)")
            seen.append(postgres_db.dbname)

        def test_another_one(postgres_db):
            assert postgres_db.dbname not in seen
            with psycopg.connect(postgres_db.dsn) as conn:
                assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)

        def test_redis_db_named_after_the_service(cache, cache_db):
            client = redis.Redis.from_url(cache_db.url)
            client.set("k", "v")
            assert cache_db.db != 0 and client.get("k") == b"v"

        def test_nats_prefix(nats_prefix):
            assert nats_prefix.prefix
        """
    )
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
