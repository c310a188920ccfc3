"""The warm start through the front door: `stack up` of a compiled profile starts its launcher
from the compiled form (a hit, without the schema or the checks), and the stack it runs is the
full path's: `stack env` gives the same variables both ways (postgres + redis + a command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackfixtures._launcher import first_spawn
from tests.cli_helpers import run_stack
from tests.conftest import free_port, write_project

pytestmark = pytest.mark.slow  # starts stacks (tests/spawns.py)

PROFILE = """
[stack]
unset_env = ["PGPASSWORD"]
env = {{ APP_DB = "${{db.dsn}}", APP_CACHE = "${{cache.url}}" }}

[services.db]
kind = "postgres"
port = {db}

[services.cache]
kind = "redis"
port = {cache}

[services.api]
command = ["{{PY}}", "-c", "import time; time.sleep(600)"]
depends_on = ["db", "cache"]
env = {{ DB = "${{db.dsn}}" }}
"""


def up_env_down(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """`stack up`, then what `stack env` and the handles say, then `stack down`."""
    started = run_stack(["up", "-p", "dev"], root, timeout=180, env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        said = run_stack(["env", "-p", "dev", "--format", "json"], root, env=env)
        assert said.returncode == 0, said.stderr
        status = run_stack(["status", "-p", "dev", "--json"], root, env=env)
        handles = {s["name"]: s["handle"] for s in json.loads(status.stdout)["services"]}
        again = run_stack(["up", "-p", "dev"], root, timeout=60, env=env)  # (a full reload)
        assert "already up, with the same configuration" in again.stdout, again.stdout
        for handle in handles.values():
            handle.pop("pid", None)  # (a new process each start)
        return {"env": json.loads(said.stdout), "handles": handles}
    finally:
        stopped = run_stack(["down", "-p", "dev"], root, timeout=120, env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_up_from_the_compiled_profile_runs_the_same_stack(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_project(root, PROFILE.format(db=free_port(), cache=free_port()))
    trace = tmp_path / "trace.jsonl"
    env = {"STACKFIXTURES_CACHE": str(tmp_path / "cache"), "STACKFIXTURES_TRACE_LOAD": str(trace)}
    full = up_env_down(root, {**env, "STACKFIXTURES_PROFILE_CACHE": "0"})
    assert {json.loads(line)["path"] for line in trace.read_text().splitlines()} == {"miss"}
    trace.unlink()
    compiled = up_env_down(root, {**env, first_spawn.ENV: "1"})
    took = [json.loads(line) for line in trace.read_text().splitlines()]
    # `stack up` validated (and compiled) it; its launcher then started from the compiled form,
    # and the second `stack up` (on the running stack) read it too
    assert [t["path"] for t in took] == ["miss", "hit", "hit"], [t["path"] for t in took]
    launcher = set(took[1]["modules"])
    assert "stackfixtures._project.checks" not in launcher
    assert "stackfixtures._config.load" not in launcher
    # the data kinds read their options as plain data: no pydantic, no schema, in the launcher's
    # load nor by its first spawn (one of its services then read its options and started)
    spawned = json.loads((root / ".stack" / "dev" / first_spawn.NAME).read_text())
    for modules in (launcher, set(spawned["modules"])):
        assert not {m for m in modules if m.startswith("pydantic")}, spawned["service"]
        assert "stackfixtures._config.schema" not in modules
    assert compiled == full
    assert compiled["env"]["APP_DB"].startswith("postgresql://")


def test_up_of_commands_from_the_compiled_profile_imports_no_pydantic(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_project(
        root, '[services.api]\ncommand = ["{PY}", "-c", "import time; time.sleep(600)"]\n'
    )
    trace = tmp_path / "trace.jsonl"
    env = {"STACKFIXTURES_CACHE": str(tmp_path / "cache"), "STACKFIXTURES_TRACE_LOAD": str(trace)}
    up_env_down(root, env)
    took = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [t["path"] for t in took] == ["miss", "hit", "hit"]
    assert not [m for m in took[1]["modules"] if m.startswith("pydantic")]
