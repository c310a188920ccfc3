"""Replacing one service of the real graph for some tests (issue 18), in real pytest runs: a
fixture named like the service, `@pytest.mark.stack(replace=...)`, under xdist, and the
mistakes (a replacement lacking what a template needs; one that nothing uses)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from .conftest import HTTP_APP, PY
from .outside import redis_server, serves

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = f"""
[services.redis]
kind = "redis"

[services.web]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = ["redis"]
env = {{ REDIS_URL = "${{redis.url}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}

[services.other]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
ready = {{ tcp = "${{port}}" }}

[services.watcher]
command = ["{PY}", "{HTTP_APP}", "--port", "${{port}}"]
depends_on = ["redis"]
env = {{ REDIS_PID = "${{redis.pid}}" }}
ready = {{ tcp = "${{port}}" }}
"""

HELPERS = """
import httpx, psutil

def web_env(web, name="REDIS_URL"):
    return httpx.get(web.url + "/env/" + name, trust_env=False).json()["value"]

def redis_servers():
    '''Redis-compatible servers this pytest process started (its stacks' children).'''
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "valkey" in p.name() or "redis" in p.name():
                found.append(p)
        except psutil.Error:
            pass
    return found
"""

FAKE = """
import pytest
import stackfixtures as sf
from helpers import redis_servers, web_env

FAKE = "redis://127.0.0.1:1/0"
pids = []

@pytest.fixture(scope="session")
def redis():
    return sf.Handle(url=FAKE, host="127.0.0.1", port=1)

def test_web_gets_the_fake(web):
    assert web_env(web) == FAKE
    assert redis_servers() == []
    pids.append(web.pid)

def test_the_module_shares_one_web(web):
    assert web_env(web) == FAKE and pids == [web.pid]
    assert redis_servers() == []
"""

OWN_SERVER = "assert [p.pid for p in redis_servers()] == [redis.pid]"
REAL = f"""
import redis as client
from helpers import redis_servers, web_env

def test_web_gets_the_real_one(web, redis):
    assert web_env(web) == redis.url and redis.port != 1
    assert client.Redis.from_url(redis.url).ping()
    {OWN_SERVER}
"""


def project(pytester: pytest.Pytester, **files: str) -> Path:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(PROFILE)
    pytester.makepyprojecttoml(
        "[project]\nname = 'x'\nversion = '0'\n[tool.pytest.ini_options]\nstack_profile = 'dev'\n"
    )
    pytester.makepyfile(helpers=HELPERS, **files)
    return pytester.path / "bt"


def events(path: Path) -> list[tuple[str, str]]:
    """(service, state it went to), in order."""
    lines = map(json.loads, path.read_text().splitlines())
    return [(e["service"], e["to"]) for e in lines]


def test_a_fixture_named_like_a_service_replaces_it_for_its_tests(
    pytester: pytest.Pytester,
) -> None:
    failing = (
        FAKE.replace("def test_", "def not_a_test_")
        + """
def test_fails(web):
    web_env(web, "FROM_THE_FAILING_TEST")
    assert False, "deliberately"
"""
    )
    base = project(pytester, test_a_fake=FAKE, test_b_real=REAL, test_c_fails=failing)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--basetemp", str(base))
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    section = out[out.index("stackfixtures: web log during this test") :].split("\n---")[0]
    assert "GET /env/FROM_THE_FAILING_TEST" in section  # the log of its own web:
    assert "/env/REDIS_URL" not in section  # not the shared one, nor test_a_fake's
    assert "redis log during this test" not in out  # replaced: nothing of the stack's own
    swapped = events(base / "stack-swap1" / "events.jsonl")
    assert Counter(s for s, to in swapped if to == "starting") == {"redis": 1, "web": 1}
    # dependents first: the module's web stopped (at the module's end) before its redis
    assert swapped.index(("web", "stopped")) < swapped.index(("redis", "stopped"))
    shared = events(base / "stack" / "events.jsonl")
    assert Counter(s for s, to in shared if to == "starting") == {"redis": 1, "web": 1}


def test_class_and_conftest_fixtures_replace_wrappers_do_not(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("sub")
    (pytester.path / "sub" / "conftest.py").write_text(
        "import pytest, stackfixtures as sf\n\n"
        "@pytest.fixture(scope='session')\n"
        "def redis():\n"
        "    return sf.Handle(url='redis://127.0.0.1:2/0')\n"
    )
    (pytester.path / "sub" / "test_sub.py").write_text(
        "from helpers import web_env\n\n"
        "def test_conftest_replaces(web):\n"
        "    assert web_env(web) == 'redis://127.0.0.1:2/0'\n"
    )
    base = project(
        pytester,
        test_class="""
        import pytest
        import stackfixtures as sf
        from helpers import web_env

        pids = []

        class TestFake:
            @pytest.fixture
            def redis(self, request):
                return sf.Handle(url=f"redis://127.0.0.1:3/{len(pids)}")

            def test_one(self, web):
                assert web_env(web) == "redis://127.0.0.1:3/0"
                pids.append(web.pid)

            def test_two(self, web):  # a function-scoped fake: a web per test
                assert web_env(web) == "redis://127.0.0.1:3/1" and web.pid not in pids

        def test_outside_the_class(web, redis):
            assert web_env(web) == redis.url and redis.port not in (1, 2, 3)
        """,
        test_wrap="""
        import pytest
        from helpers import web_env

        @pytest.fixture
        def redis(redis):  # asks for the service itself: a wrapper, not a replacement
            return redis

        def test_wrapped(web, redis):
            assert web_env(web) == redis.url and redis.port not in (1, 2, 3)
        """,
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "--basetemp", str(base)
    )
    result.assert_outcomes(passed=5)
    shared = events(base / "stack" / "events.jsonl")
    assert Counter(s for s, to in shared if to == "starting") == {"redis": 1, "web": 1}


def test_a_mark_replaces_a_service_with_an_endpoint_that_runs(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with redis_server(tmp_path / "outside") as url:
        base = project(
            pytester,
            test_marked=f"""
            import pytest, redis as client
            from helpers import redis_servers, web_env

            pytestmark = pytest.mark.stack(replace={{"redis": "{url}"}})

            def test_web_and_redis_are_the_endpoint(web, redis):
                assert redis.url == "{url}" and redis.external
                assert web_env(web) == "{url}"
                assert client.Redis.from_url(redis.url).ping()
                assert redis_servers() == []

            def test_unmarked_module_tests_share_it(web):
                assert web_env(web) == "{url}"
            """,
            test_real=REAL,
        )
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--basetemp", str(base))
        result.assert_outcomes(passed=3)
        assert serves(url)  # probed, used, never stopped
    swapped = events(base / "stack-swap1" / "events.jsonl")
    assert Counter(s for s, to in swapped if to == "starting") == {"redis": 1, "web": 1}


def test_xdist_one_module_replacing_one_not(pytester: pytest.Pytester) -> None:
    base = project(
        pytester,
        test_a_fake=FAKE.replace("assert redis_servers() == []", "pass"),
        test_b_real=REAL.replace(OWN_SERVER, ""),  # the shared launcher runs it
        test_c_real=REAL.replace(OWN_SERVER, ""),
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--basetemp", str(base)
    )
    result.assert_outcomes(passed=4)
    shared = events(base / "stack-shared" / "events.jsonl")
    assert Counter(s for s, to in shared if to == "starting") == {"redis": 1, "web": 1}
    swapped = [
        e for path in base.glob("*/stack-swap1/events.jsonl") for e in events(path)
    ]  # in the worker that ran test_a_fake
    assert Counter(s for s, to in swapped if to == "starting") == {"redis": 1, "web": 1}


def test_a_replacement_lacking_what_a_template_needs_fails_before_anything_starts(
    pytester: pytest.Pytester,
) -> None:
    base = project(
        pytester,
        test_lacking="""
        import pytest
        import stackfixtures as sf

        @pytest.fixture(scope="session")
        def redis():
            return sf.Handle(host="127.0.0.1", port=1)

        def test_web(web):
            pass
        """,
        test_marked="""
        import pytest

        @pytest.mark.stack(replace={"redis": "redis://127.0.0.1:9/0"})
        def test_watcher(watcher):
            pass

        @pytest.mark.stack(replace={"redsi": "redis://127.0.0.1:9/0"})
        def test_misspelt(web):
            pass
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--basetemp", str(base))
    result.assert_outcomes(errors=3)
    line = next(n for n, t in enumerate(PROFILE.splitlines(), 1) if "REDIS_URL" in t)
    result.stdout.fnmatch_lines(
        [
            "*this test's services cannot run with what replaces redis:",
            f"*profiles/dev.toml:{line}:*: services.web.env.REDIS_URL: ${{redis.url}}: "
            "fixture 'redis' (test_lacking.py:*) has no 'url' (it has: host, port)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*this test's services cannot run with what replaces redis:",
            "*: services.watcher.env.REDIS_PID: ${redis.pid}: the replacement of 'redis' "
            "(redis://127.0.0.1:9/0, from the stack mark of test_marked.py::test_watcher) has "
            "no 'pid' (it has: databases, db, external, host, port, url)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*stack(replace={'redsi': *}) on test_marked.py::test_misspelt: unknown service "
            "'redsi'*did you mean 'redis'?"
        ]
    )
    swapped = (
        events(base / "stack-swap1" / "events.jsonl") if (base / "stack-swap1").exists() else []
    )
    assert ("web", "starting") not in swapped


def test_a_replacement_that_nothing_uses_is_a_warning(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        test_unused="""
        import pytest
        import stackfixtures as sf

        @pytest.fixture
        def redis():
            return sf.Handle(url="redis://127.0.0.1:1/0")

        @pytest.mark.stack(replace={"web": "http://127.0.0.1:9/"})
        def test_other(other):
            pass
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=2)
    result.stdout.fnmatch_lines(
        [
            "*UnusedReplacement: fixture 'redis' (test_unused.py:*) replaces service 'redis', "
            "but no test that sees it uses 'redis' or a service that depends on it*",
            "*UnusedReplacement: the replacement of 'web' (http://127.0.0.1:9/, from the stack "
            "mark of test_unused.py::test_other) replaces service 'web'*",
        ]
    )
