"""Per-test databases left on a server that outlives a killed pytest are dropped by the next
pool on that server: only those of this host's processes that are gone, only names of the
pool's own pattern."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from stackfixtures.kinds.postgres import owners

from .conftest import until
from .test_per_test_pool import SERVER, databases, external

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def owned_by(pid: int, started: int, prefix: str = "test") -> str:
    return f"{prefix}_{owners._host()}_{pid}_{started}_0123abcd"


async def test_a_pool_drops_the_databases_of_processes_gone(
    tmp_path: Path, make_stack: Any
) -> None:
    gone = subprocess.Popen(["sleep", "60"])
    started = int(psutil.Process(gone.pid).create_time())
    gone.kill()
    gone.wait()
    me = psutil.Process()
    dead = [
        owned_by(gone.pid, started),
        owned_by(gone.pid, started, "tx"),
        owned_by(me.pid, int(me.create_time()) - 5),  # a pid reused by another process
    ]
    kept = [owned_by(me.pid, int(me.create_time())), "test_keepme"]  # alive; not our pattern
    owner = await make_stack(tmp_path / "owner", SERVER)
    server = (await owner.start(["postgres"]))["postgres"]
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        for name in dead + kept:
            conn.execute(f'CREATE DATABASE "{name}"')
    user = await make_stack(tmp_path / "user", external(server.dsn))
    await user.start(["postgres_db"])
    await until(lambda: not set(dead) & databases(server.dsn), timeout=30)
    assert set(kept) <= databases(server.dsn)
    await user.close()
