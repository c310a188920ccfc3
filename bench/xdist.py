"""The same suite serial and with `pytest -n 4`: wall time, and how many PostgreSQL servers each
run started (pytest-postgresql and friends start one per xdist worker; we start one).

Prints one JSON object: {"serial_s", "xdist_s", "postgres_started_serial",
"postgres_started_xdist", "tests"}. Usage: python bench/xdist.py [--files N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROFILE = Path(__file__).parent / "apps" / "backend_per_test.toml"

TESTS = """
import time
import httpx
import psycopg
import redis


def test_postgres_{n}(postgres_db):
    with psycopg.connect(postgres_db.dsn) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1000,)


def test_redis_{n}(redis_db):
    client = redis.Redis.from_url(redis_db.url)
    for i in range(200):
        client.set(f"k{{i}}", i)
    assert client.dbsize() == 200


def test_gateway_{n}(api_gateway):
    for i in range(10):
        reply = httpx.post(api_gateway.url + "/tasks", json={{"payload": f"{n}.{{i}}"}},
                           trust_env=False)
        assert reply.status_code == 201
    time.sleep(0.2)  # a test doing some work of its own
"""


def postgres_starts(basetemp: Path) -> int:
    count = 0
    for events in basetemp.rglob("events.jsonl"):
        for line in events.read_text().splitlines():
            e = json.loads(line)  # "attached": a worker's view of the shared server, not a server
            count += (
                e["service"] == "postgres" and e["to"] == "starting" and e.get("kind") == "postgres"
            )
    return count


def run(project: Path, *args: str) -> tuple[float, int]:
    basetemp = project / f"bt{len(args)}"
    t0 = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(basetemp),
            *args,
        ],
        cwd=project,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-2000:])
    return took, postgres_starts(basetemp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=8, help="test modules (3 tests each)")
    args = ap.parse_args()
    project = Path(tempfile.mkdtemp(prefix="stackfixtures-xdist-"))
    project.chmod(0o755)
    try:
        (project / "profiles").mkdir()
        (project / "profiles" / "dev.toml").write_text(PROFILE.read_text())
        (project / "pyproject.toml").write_text(
            "[project]\nname='x'\nversion='0'\n[tool.pytest.ini_options]\nstack_profile='dev'\n"
        )
        for n in range(args.files):
            (project / f"test_m{n}.py").write_text(TESTS.format(n=n))
        serial_s, serial_pg = run(project)
        xdist_s, xdist_pg = run(project, "-n", "4")
    finally:
        shutil.rmtree(project, ignore_errors=True)
    json.dump(
        {
            "serial_s": round(serial_s, 2),
            "xdist_s": round(xdist_s, 2),
            "postgres_started_serial": serial_pg,
            "postgres_started_xdist": xdist_pg,
            "tests": args.files * 3,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
