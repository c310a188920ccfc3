"""Per-test isolation that costs almost nothing: `postgres_db` hands out clones made ahead and
drops released ones in the background, never a clone of an older template, leaving none
behind; `<server>_tx` rolls each test's work back; a stopped per-test service is not swept for
processes it never started."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures import _project as projects
from stackfixtures._engine.cleanup import reaper

from .conftest import until
from .test_templates import reload

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SERVER = """
[services.postgres]
kind = "postgres"
source = "wheel"
settings = { fsync = false }
"""

TEMPLATED = (
    SERVER
    + 'template = { schema_file = "schema.sql" }\n'
    + '[services.postgres_db]\nkind = "postgres_db"\n'
)
"""SERVER with a template from schema.sql, and its per-test databases."""


async def templated(root: Path, make_stack: Any) -> Any:
    """A stack (not started) of TEMPLATED, its schema.sql one table `items (id int)`."""
    (root / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    return await make_stack(root, TEMPLATED)


def external(dsn: str) -> str:
    """A profile whose postgres is the server at `dsn` (another stack's), with per-test
    databases on it: what they leave behind there can be seen after this stack closed."""
    return f"""
[services.postgres]
kind = "postgres"
external = "{dsn}"
[services.postgres_db]
kind = "postgres_db"
"""


def databases(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def clones(dsn: str) -> set[str]:
    return {n for n in databases(dsn) if n.startswith("test_")}


async def test_clones_are_made_ahead_dropped_after_and_none_left_behind(
    tmp_path: Path, make_stack: Any
) -> None:
    # A server of one stack, per-test databases of another: what the second leaves behind
    # on the server can be seen after it closed.
    owner = await make_stack(tmp_path / "owner", SERVER)
    server = (await owner.start(["postgres"]))["postgres"]
    user = await make_stack(tmp_path / "user", external(server.dsn))
    first = (await user.start(["postgres_db"]))["postgres_db"]
    with psycopg.connect(first.dsn) as conn:
        conn.execute("CREATE TABLE mine (v int)")
    await user.stop(["postgres_db"])
    # Before the next test asks: its database exists already, the last one is being dropped.
    await until(
        lambda: first.dbname not in (made := clones(server.dsn)) and len(made) > 0, timeout=30
    )
    ready = clones(server.dsn)
    second = (await user.start(["postgres_db"]))["postgres_db"]
    assert second.dbname in ready  # made ahead, not when asked
    with psycopg.connect(second.dsn) as conn:
        assert conn.execute("SELECT to_regclass('mine')").fetchone() == (None,)
    await user.stop(["postgres_db"])
    await user.close()
    assert clones(server.dsn) == set()  # the used ones and the unused ones: all dropped


async def test_a_rebuilt_template_never_hands_out_an_old_clone(
    tmp_path: Path, make_stack: Any
) -> None:
    stack = await templated(tmp_path, make_stack)
    recorded = projects.fingerprints(projects.load("dev", root=tmp_path).graph, tmp_path)
    server = (await stack.start(["postgres"]))["postgres"]
    first = (await stack.start(["postgres_db"]))["postgres_db"]
    await stack.stop(["postgres_db"])
    await until(lambda: len(clones(server.dsn) - {first.dbname}) > 0, timeout=30)  # old schema
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int, price int);\n")
    assert await reload(stack, tmp_path, recorded) == ["postgres-template"]  # rebuilt
    fresh = (await stack.start(["postgres_db"]))["postgres_db"]
    with psycopg.connect(fresh.dsn) as conn:
        conn.execute("SELECT price FROM items")
    await stack.stop(["postgres_db"])


async def test_a_stop_sweeps_only_services_that_handed_out_the_marker(
    tmp_path: Path, make_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sweep reads every process's environment: after each per-test database it was most
    # of the release. A service that never gave a process the stack's marker has none to find.
    stack = await make_stack(tmp_path, SERVER + '[services.postgres_db]\nkind = "postgres_db"\n')
    await stack.start(["postgres"])
    swept: list[set[str] | None] = []
    real = reaper.marked

    def counting(stack_id: str, services: set[str] | None = None) -> list[Any]:
        swept.append(services)
        return real(stack_id, services)

    monkeypatch.setattr(reaper, "marked", counting)
    await stack.start(["postgres_db"])
    await stack.stop(["postgres_db"])
    assert swept == []
    await stack.stop(["postgres"])  # a server process: swept for
    assert swept == [{"postgres"}]


TX_TESTS = """
import psycopg

def test_commits_and_blocks_are_savepoints(postgres_tx):
    postgres_tx.execute("CREATE TABLE t (x int)")
    postgres_tx.execute("INSERT INTO t VALUES (1)")
    postgres_tx.commit()
    with postgres_tx.transaction():
        postgres_tx.execute("INSERT INTO t VALUES (2)")
    try:
        with postgres_tx.transaction():
            postgres_tx.execute("INSERT INTO t VALUES (3)")
            raise ValueError
    except ValueError:
        pass
    postgres_tx.execute("INSERT INTO t VALUES (4)")
    postgres_tx.rollback()  # back to the last commit, not to the start of the test
    assert postgres_tx.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
    with postgres_tx:  # the code under test's `with conn:` does not close it
        pass

def test_the_next_test_sees_none_of_it(postgres_tx, postgres):
    assert postgres_tx.execute("SELECT to_regclass('t')").fetchone() == (None,)
    assert postgres_tx.execute("SELECT count(*) FROM items").fetchone() == (0,)  # template
    with psycopg.connect(postgres.dsn) as conn:
        tx_dbs = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'tx_%'")
        assert len(tx_dbs.fetchall()) == 1

def test_a_broken_transaction_is_rolled_back(postgres_tx):
    try:
        postgres_tx.execute("SELECT 1/0")
    except psycopg.errors.DivisionByZero:
        pass

def test_after_an_error(postgres_tx):
    assert postgres_tx.execute("SELECT 1").fetchone() == (1,)
"""


def test_transactional_fixture_rolls_each_test_back(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(
        SERVER + 'template = { schema_file = "schema.sql" }\n'
    )
    (pytester.path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(test_tx=TX_TESTS)
    result = pytester.runpytest_subprocess("--stack-profile", "dev", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


REUSED_TESTS = """
import pathlib

import psycopg

def test_{n}(postgres, postgres_db, postgres_tx):
    pathlib.Path("server.dsn").write_text(postgres.dsn)
    with psycopg.connect(postgres_db.dsn) as conn:
        conn.execute("CREATE TABLE t (v int)")  # would clash if two tests shared a database
    postgres_tx.execute("CREATE TABLE t (v int)")
"""


def test_a_reused_server_keeps_no_per_test_database(pytester: pytest.Pytester) -> None:
    # --stack-reuse: the server outlives the run; the session's clones, made ahead or used,
    # and its transactional database do not.
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(SERVER)
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(test_reused="".join(REUSED_TESTS.format(n=n) for n in range(4)))
    args = ("--stack-profile", "dev", "-p", "no:cacheprovider")
    try:
        pytester.runpytest_subprocess(*args, "--stack-reuse").assert_outcomes(passed=4)
        server = (pytester.path / "server.dsn").read_text()
        left = {n for n in databases(server) if n.startswith(("test_", "tx_"))}
        assert left == set()
    finally:
        assert pytester.runpytest_subprocess(*args, "--stack-reuse=off", "--co", "-q").ret == 0
