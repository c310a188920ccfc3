"""`stack up`, then plain `pytest`: the session uses the running stack of its profile (its
pinned port would clash with a second one), as under `stack exec`, and leaves it running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from stackfixtures._control.endpoint import read

from .cli_helpers import run_stack
from .test_readme_project import TEST, project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]  # (not -q: the header)

CHECKS = """

def test_the_stack_is_the_running_one(db, db_db):
    import os, psycopg

    assert db.port == int(os.environ["PINNED_PORT"])
    with psycopg.connect(db_db.dsn) as conn:  # a per-test database, cloned on that server
        assert conn.execute("select count(*) from items").fetchone() == (0,)
"""


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Plain pytest in `root` (not under `stack exec`: no attach variable)."""
    env = {k: v for k, v in os.environ.items() if k != "STACKFIXTURES_ATTACH"}
    env["PINNED_PORT"] = str(pinned_port(root))
    return subprocess.run(
        [*PYTEST, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def pinned_port(root: Path) -> int:
    text = (root / "profiles" / "dev.toml").read_text()
    return int(text.split("port = ", 1)[1].split()[0])


def started(events: Path) -> Counter[str]:
    """How many times each kind of service was started in the stack of `events`."""
    rows = map(json.loads, events.read_text().splitlines()) if events.exists() else []
    return Counter(e["kind"] for e in rows if e["to"] == "starting")


def test_pytest_beside_stack_up_uses_it_and_leaves_it_running(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "test_items.py").write_text(TEST + CHECKS)
    up = run_stack(["up", "-p", "dev"], tmp_path, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    state = tmp_path / ".stack" / "dev"
    try:
        ep = read(state)
        assert ep is not None
        for args in ([], ["-n", "2"]):
            base = tmp_path / f"bt{len(args)}"
            result = pytest_in(tmp_path, "--basetemp", str(base), *args)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "2 passed" in result.stdout
            assert (
                f"stackfixtures: using the stack already running in {state} (launcher pid "
                f"{ep.pid}); it stays running after the tests"
            ) in result.stdout
            assert "differs" not in result.stdout
            assert read(state) == ep and ep.alive()  # still up, the same launcher
            assert not (state / "launch.lock").exists()  # nothing of the session's in its dir
            assert started(state / "events.jsonl")["postgres"] == 1  # one: `stack up`'s
            sessions = [started(p) for p in base.rglob("events.jsonl")]
            assert sessions and not any(s["postgres"] for s in sessions)  # ("attached" there)

        # A session in another mode cannot use it: it says so, and what to do.
        other = pytest_in(
            tmp_path, "--basetemp", str(tmp_path / "bt-multi"), "--stack-mode=multi", "--co"
        )
        assert (
            f"stackfixtures: a stack of this profile runs in {state} (launcher pid {ep.pid}) "
            "in another mode (default) than this session's (multi): the session starts its "
            "own, whose pinned ports clash with it; run pytest in the stack's mode, or stop "
            "that stack (`stack down -p dev`)"
        ) in other.stdout
        assert read(state) == ep and ep.alive()

        # A session whose profile says otherwise than the running stack: it says so, and how
        # to bring the stack in line (or let pytest run its own).
        profile = tmp_path / "profiles" / "dev.toml"
        profile.write_text(profile.read_text().replace('"--bind"', '"--directory", ".", "--bind"'))
        result = pytest_in(tmp_path, "--basetemp", str(tmp_path / "bt-changed"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert (
            "stackfixtures: the running stack's configuration differs from this session's "
            "(changed: api): run `stack up -p dev` to restart what changed, or "
            "`stack down -p dev` to let pytest start its own"
        ) in result.stdout
        assert read(state) == ep and ep.alive()
    finally:
        assert run_stack(["down", "-p", "dev"], tmp_path).returncode == 0
