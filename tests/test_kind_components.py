"""The components kind from a profile (`kind = "components"`): a process hosting the app's
components, ready when its /health answers, its handle naming them; started from the
compiled profile too (a hit: its options read as plain data, no pydantic)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import run_stack
from tests.conftest import write_project

pytestmark = pytest.mark.slow  # starts stacks (tests/spawns.py)

PARTS = """
class Part:
    router = None

    def __init__(self, name):
        self.name = name

    async def startup(self):
        pass

    async def shutdown(self):
        pass

    async def health(self):
        return {"status": "ok", "part": self.name}


def components(names):
    return [Part(n) for n in names]
"""
PROFILE = """
[services.app]
kind = "components"
factory = "parts:components"
components = ["a", "b"]
grace = 2
"""


def test_a_components_service_serves_its_parts_from_the_compiled_profile(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_project(root, PROFILE)
    (root / "parts.py").write_text(PARTS)
    trace = tmp_path / "trace.jsonl"
    env = {"STACKFIXTURES_CACHE": str(tmp_path / "cache"), "STACKFIXTURES_TRACE_LOAD": str(trace)}
    for _ in range(2):  # the second start's launcher: from the compiled form
        started = run_stack(["up", "-p", "dev"], root, timeout=120, env=env)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            status = run_stack(["status", "-p", "dev", "--json"], root, env=env)
            [app] = json.loads(status.stdout)["services"]
            assert app["state"] == "ready" and app["handle"]["components"] == ["a", "b"]
            health = httpx.get(app["handle"]["url"] + "/health", timeout=10).json()
            assert health["components"]["b"] == {"status": "ok", "part": "b"}
        finally:
            stopped = run_stack(["down", "-p", "dev"], root, timeout=60, env=env)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    took = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [t["path"] for t in took] == ["miss", "hit", "hit", "hit"]
    launcher = took[3]["modules"]  # (the second start's launcher)
    assert not [m for m in launcher if m.startswith("pydantic")]
    assert "stackfixtures._config.schema" not in launcher
