"""The README's "Use it in your own project" walk-through, as written: its profile, run with
`stack exec` in an empty project, and its pytest example with a per-test database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stackfixtures._engine.ports import allocate_port

from . import readme
from .cli_helpers import run_stack

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SECTION = readme.section("## Use it in your own project")
SCHEMA = readme.blocks(SECTION, "sql")[0]
PROFILE = readme.blocks(SECTION, "toml")[0]
TEST = next(b for b in readme.blocks(SECTION, "python") if b.startswith("import psycopg"))


def project(root: Path) -> None:
    (root / "profiles").mkdir()
    # the README pins port 55432; a free one here, so a server of yours on 55432 cannot clash
    (root / "profiles" / "dev.toml").write_text(PROFILE.replace("55432", str(allocate_port())))
    (root / "schema.sql").write_text(SCHEMA)
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'shop'\nversion = '0'\n\n"
        '[tool.pytest.ini_options]\nstack_profile = "dev"\n'
    )


def test_the_profile_runs_with_stack_exec(tmp_path: Path) -> None:
    project(tmp_path)
    check = 'psql "$DATABASE_URL" -tAc "select count(*) from items" && test -n "$API_URL"'
    result = run_stack(["exec", "-p", "dev", "--", "sh", "-c", check], tmp_path, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "0"  # the seed task ran before `api` started


def test_the_pytest_example(pytester: pytest.Pytester) -> None:
    project(pytester.path)
    pytester.makepyfile(test_items=TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_pytest_under_stack_exec_uses_its_stack(tmp_path: Path) -> None:
    """`stack exec -p dev -- pytest`: the session uses exec's stack (its pinned port would
    clash with a second one), and exec stops it afterwards."""
    project(tmp_path)
    (tmp_path / "test_items.py").write_text(
        TEST
        + "\n\ndef test_the_stack_is_execs(db):\n"
        + "    import os\n\n"
        + "    assert db.port == int(os.environ['DB_PORT'])\n"
    )
    pytest_cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    result = run_stack(["exec", "-p", "dev", "--", *pytest_cmd], tmp_path, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
