"""Per-test templates taken after tasks (migrations), and rebuilt when what they are made of
changes: the schema file, the hook's module, the tasks (their code, settings and input files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures import _project as projects
from stackfixtures._engine.ports import allocate_port
from stackfixtures.errors import ProfileError

from . import readme
from .cli_helpers import run_stack
from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

WALKTHROUGH = readme.section("## Use it in your own project")
README_SCHEMA = readme.blocks(WALKTHROUGH, "sql")[0]
README_PROFILE = readme.blocks(WALKTHROUGH, "toml")[0]

MIGRATE = """\
import pathlib, sys
import psycopg

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS applied (name text PRIMARY KEY)")
    done = {r[0] for r in conn.execute("SELECT name FROM applied")}
    for f in sorted(pathlib.Path("migrations").glob("*.sql")):
        if f.name not in done:
            conn.execute(f.read_text())
            conn.execute("INSERT INTO applied VALUES (%s)", (f.name,))
"""

PROFILE = """
[services.db]
kind = "postgres"
source = "wheel"
dbname = "app"
template = { after = ["migrate"] }

[services.migrate]
command = ["{PY}", "migrate.py", "${db.dsn}"]
depends_on = ["db"]
task = true
watch = ["migrations/*.sql"]

[services.db_db]
kind = "postgres_db"
inject = { postgres = "db" }
"""


def columns(dsn: str, table: str = "items") -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]


def migrations(root: Path, *sql: str, first: int = 1) -> None:
    (root / "migrations").mkdir(exist_ok=True)
    for i, text in enumerate(sql, first):
        (root / "migrations" / f"{i:03}.sql").write_text(text)


async def reload(stack: Any, root: Path, recorded: dict[str, str]) -> list[str]:
    """What the launcher's reload does (_launcher/running.py): swap in the services
    whose fingerprint differs from the one recorded at the start; what restarted."""
    fresh = projects.load("dev", root=root)
    now = projects.fingerprints(fresh.graph, root)
    changed = {n: fresh.graph[n] for n, f in now.items() if recorded.get(n) != f}
    recorded.update(now)
    return sorted(await stack.replace(changed))


async def test_migrations_reach_every_test_database_and_a_new_one_rebuilds_it(
    tmp_path: Path, make_stack: Any
) -> None:
    (tmp_path / "migrate.py").write_text(MIGRATE)
    migrations(
        tmp_path,
        "CREATE TABLE items (id serial PRIMARY KEY, name text);",
        "ALTER TABLE items ADD COLUMN price numeric;",
    )
    stack = await make_stack(tmp_path, PROFILE)
    recorded = projects.fingerprints(projects.load("dev", root=tmp_path).graph, tmp_path)
    one = (await stack.start(["db_db"]))["db_db"]
    assert columns(one.dsn) == ["id", "name", "price"]  # the migrated schema, in a clone
    db = stack.handle("db")
    first_id = db.template_id
    assert db.template == "stackfixtures_template" and len(first_id) == 12
    await stack.stop(["db_db"])

    migrations(tmp_path, "ALTER TABLE items ADD COLUMN stock int;", first=3)  # a new one
    restarted = await reload(stack, tmp_path, recorded)
    assert {"migrate", "db-template"} <= set(restarted) and "db" not in restarted
    builder = stack.handle("db-template")
    assert builder.rebuilt and "task migrate changed" in builder.reason
    assert stack.handle("db").template_id == builder.template_id != first_id
    two = (await stack.start(["db_db"]))["db_db"]
    assert columns(two.dsn) == ["id", "name", "price", "stock"]


HOOK = """\
import psycopg


def fill(dsn):
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO items (id) VALUES (1)")
"""


async def test_schema_or_hook_edit_rebuilds_and_an_unchanged_template_is_kept(
    tmp_path: Path, make_stack: Any
) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE IF NOT EXISTS items (id int);\n")
    (tmp_path / "hooks.py").write_text(HOOK)
    profile = """
[services.db]
kind = "postgres"
source = "wheel"
template = { schema_file = "schema.sql", hook = "hooks:fill" }

[services.db_db]
kind = "postgres_db"
inject = { postgres = "db" }
"""
    stack = await make_stack(tmp_path, profile)
    recorded = projects.fingerprints(projects.load("dev", root=tmp_path).graph, tmp_path)
    one = (await stack.start(["db_db"]))["db_db"]
    assert columns(one.dsn) == ["id"]
    await stack.stop(["db_db"])
    # an idempotent schema edited: the template starts from a fresh database, so it shows
    (tmp_path / "schema.sql").write_text("CREATE TABLE IF NOT EXISTS items (id int, sku text);\n")
    assert await reload(stack, tmp_path, recorded) == ["db-template"]
    assert stack.handle("db-template").reason == "schema file schema.sql changed"
    two = (await stack.start(["db_db"]))["db_db"]
    assert columns(two.dsn) == ["id", "sku"]
    with psycopg.connect(two.dsn) as conn:
        assert conn.execute("SELECT id FROM items").fetchall() == [(1,)]
    await stack.stop(["db_db"])
    (tmp_path / "hooks.py").write_text(HOOK.replace("(1)", "(2)"))  # the hook edited
    assert await reload(stack, tmp_path, recorded) == ["db-template"]
    assert stack.handle("db-template").reason == "hook hooks:fill changed"
    three = (await stack.start(["db_db"]))["db_db"]
    with psycopg.connect(three.dsn) as conn:
        assert conn.execute("SELECT id FROM items").fetchall() == [(2,)]
    await stack.close()

    again = await make_stack(tmp_path, profile)  # the same identity: the template is kept
    await again.start(["db_db"])
    assert not again.handle("db-template").rebuilt
    log = (tmp_path / "state" / "logs" / "db-template.log").read_text()
    assert "template stackfixtures_template of db is up to date" in log


@pytest.mark.parametrize(
    ("after", "said"),
    [
        (
            '["api"]',
            "profiles/dev.toml:4:23: services.db.template.after[0]: 'api' is not a task "
            "(`task = true`): the template is built once the tasks completed",
        ),
        (
            '["migrate", "migrat"]',
            "profiles/dev.toml:4:34: services.db.template.after[1]: 'migrat' is no service; "
            "did you mean 'migrate'?",
        ),
    ],
)
def test_template_after_must_name_tasks_said_where(tmp_path: Path, after: str, said: str) -> None:
    write_project(
        tmp_path,
        f"""
[services.db]
kind = "postgres"
template = {{ after = {after} }}

[services.migrate]
command = ["true"]
depends_on = ["db"]
task = true

[services.api]
command = ["true"]
depends_on = ["db"]
""",
    )
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    assert str(info.value).replace(str(tmp_path) + "/", "") == said


def _inserting(root: Path, column: str, value: str) -> None:
    """test_cols.py: a test that writes `column` in its own database."""
    (root / "test_cols.py").write_text(
        "import psycopg\n\n"
        "def test_columns(db_db):\n"
        "    with psycopg.connect(db_db.dsn) as conn:\n"
        '        conn.execute("INSERT INTO items (name, price, '
        f"{column}) VALUES ('x', 1, {value})\")\n"
    )


def test_stack_up_and_exec_rebuild_an_edited_template_and_say_so(tmp_path: Path) -> None:
    """The README's walk-through, up: an edited schema.sql (which the `seed` task's command
    names) rebuilds the template at the next `stack up` and `stack exec`, said on the way,
    and the next test's database has the new column."""
    write_project(tmp_path, README_PROFILE.replace("55432", str(allocate_port())))
    (tmp_path / "schema.sql").write_text(README_SCHEMA)
    with (tmp_path / "pyproject.toml").open("a") as f:
        f.write('\n[tool.pytest.ini_options]\nstack_profile = "dev"\n')
    try:
        first = run_stack(["up", "-p", "dev"], tmp_path, timeout=180)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "rebuilt" not in first.stdout

        (tmp_path / "schema.sql").write_text(
            README_SCHEMA.replace("name text", "name text, sku text")
        )
        again = run_stack(["up", "-p", "dev"], tmp_path, timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "template stackfixtures_template of db rebuilt: task seed changed" in again.stdout

        (tmp_path / "schema.sql").write_text(
            README_SCHEMA.replace("name text", "name text, qty int")
        )
        _inserting(tmp_path, "qty", "2")
        pytest_cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        ran = run_stack(["exec", "--", *pytest_cmd, "test_cols.py"], tmp_path, 180)  # (no -p)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "[stack] template stackfixtures_template of db rebuilt: task seed changed" in (
            ran.stderr
        )
        assert "1 passed" in ran.stdout
        # the command (a pytest, say) is told the profile the stack runs, whatever its ini says
        said = run_stack(
            ["exec", "--", sys.executable, "-c", "import os; print(os.environ['STACK_PROFILE'])"],
            tmp_path,
            60,
        )
        assert said.stdout.strip() == str(tmp_path / "profiles" / "dev.toml"), said.stderr

        # plain pytest beside it: api depends on seed, so rerunning seed would restart api,
        # a long-running service of someone else's stack: the session only says what differs
        api = _pid_of(tmp_path, "api")
        (tmp_path / "schema.sql").write_text(README_SCHEMA.replace("name text", "name text, n int"))
        plain = _plain_pytest(tmp_path, "test_cols.py")
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert "configuration differs from this session's (changed: db-template, seed)" in (
            plain.stdout
        )
        assert "rebuilt" not in plain.stdout
        assert _pid_of(tmp_path, "api") == api  # (a reload restarted it with seed before)

        # an edited migration that fails: exec says so and exits 3 (it was a traceback)
        (tmp_path / "schema.sql").write_text("CREATE TABLE items (id serial, oops;\n")
        broken = run_stack(["exec", "--", sys.executable, "-c", "pass"], tmp_path, 180)
        assert broken.returncode == 3, broken.stdout + broken.stderr
        assert "error: the template rebuild failed:" in broken.stderr
        assert "Traceback" not in broken.stderr
    finally:
        run_stack(["down", "-p", "dev"], tmp_path, timeout=120)


def _pid_of(root: Path, service: str) -> int:
    status = run_stack(["status", "-p", "dev", "--json"], root, timeout=60)
    assert status.returncode == 0, status.stderr
    return int(
        next(s["pid"] for s in json.loads(status.stdout)["services"] if s["name"] == service)
    )


def _plain_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in `root` as a developer runs it (not under `stack exec`)."""
    env = {k: v for k, v in os.environ.items() if k != "STACKFIXTURES_ATTACH"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_plain_pytest_beside_a_running_stack_rebuilds_its_template(tmp_path: Path) -> None:
    """When no long-running service depends on the changed tasks (api needs db, not seed),
    plain pytest reruns them and rebuilds the template, says so in its header, and its test
    sees the new column; the stack runs on, api untouched."""
    profile = README_PROFILE.replace("55432", str(allocate_port()))
    write_project(tmp_path, profile.replace('["seed", "cache"]', '["db", "cache"]'))
    (tmp_path / "schema.sql").write_text(README_SCHEMA)
    try:
        up = run_stack(["up", "-p", "dev"], tmp_path, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        api = _pid_of(tmp_path, "api")
        (tmp_path / "schema.sql").write_text(README_SCHEMA.replace("name text", "name text, n int"))
        _inserting(tmp_path, "n", "3")
        plain = _plain_pytest(tmp_path, "--stack-profile", "dev", "test_cols.py")
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert "template stackfixtures_template of db rebuilt: task seed changed" in plain.stdout
        assert "using the stack already running in" in plain.stdout
        assert _pid_of(tmp_path, "api") == api
    finally:
        run_stack(["down", "-p", "dev"], tmp_path, timeout=120)


def test_stack_reuse_rebuilds_an_edited_template(pytester: pytest.Pytester) -> None:
    (pytester.path / "profiles").mkdir()
    (pytester.path / "profiles" / "dev.toml").write_text(
        '[services.db]\nkind = "postgres"\nsource = "wheel"\n'
        'template = { schema_file = "schema.sql" }\n'
    )
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makepyfile(
        test_it="""
        import pathlib
        import psycopg

        def test_columns(db_db):
            with psycopg.connect(db_db.dsn) as conn:
                cols = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'items' ORDER BY ordinal_position")]
            assert cols == pathlib.Path("expected").read_text().split()
    """
    )
    schema, expected = pytester.path / "schema.sql", pytester.path / "expected"
    args = ("--stack-profile", "dev", "--stack-reuse", "-p", "no:cacheprovider")
    try:
        schema.write_text("CREATE TABLE items (id int);\n")
        expected.write_text("id")
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
        schema.write_text("CREATE TABLE items (id int, sku text);\n")
        expected.write_text("id sku")
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)  # the running stack's
    finally:
        off = ("--stack-profile", "dev", "--stack-reuse=off", "-p", "no:cacheprovider", "--co")
        assert pytester.runpytest_subprocess(*off).ret == 0


def test_stack_kinds_shows_each_option_with_its_keys() -> None:
    import json

    from click.testing import CliRunner

    from stackfixtures.cli import main

    text = CliRunner().invoke(main, ["kinds"])
    assert text.exit_code == 0, text.output
    assert "template = { after, schema_file, hook, name }" in text.stdout
    assert "ready = { tcp, http, grpc, exec, log, timeout }" in text.stdout  # (command's)
    listed = {
        k["name"]: k
        for k in json.loads(CliRunner().invoke(main, ["kinds", "--json"]).stdout)["kinds"]
    }
    assert listed["postgres"]["option_keys"]["template"] == ["after", "schema_file", "hook", "name"]
    assert "template_id" in listed["postgres"]["handle"]
