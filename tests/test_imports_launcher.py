"""The start path imports nothing the first spawn does not need: a plain `stack up`'s launcher,
at the moment it starts its stack's first process (_launcher/first_spawn.py writes what it had
imported then, when STACKFIXTURES_MODULES_AT_SPAWN asks), has not loaded the control server
(it sets itself up while that process boots), the file watcher, the dashboard, the live view,
reports, exports, benchmarks, nor the libraries those use; nor has `stack up` itself. And the
control socket does come up right after: the stack answers `stack status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackfixtures._launcher import first_spawn

from .cli_helpers import run_stack
from .conftest import write_project
from .imports_helpers import run_listing

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

PROFILE = """
[services.db]
command = ["sleep", "600"]

[services.web]
command = ["sleep", "600"]
depends_on = ["db"]
"""

NOT_BEFORE_FIRST_SPAWN = (
    "stackfixtures._control.server",
    "stackfixtures._control.http",
    "stackfixtures._control.local",
    "stackfixtures._launcher.watch",
    "stackfixtures._dashboard",
    "stackfixtures._report",
    "stackfixtures._export",
    "stackfixtures._bench",
    "stackfixtures._mcp",
    "stackfixtures.cli",
    "stackfixtures.pytest_plugin",
    "h11",
    "watchfiles",
    "starlette",
    "uvicorn",
    "sse_starlette",
    "textual",
    "rich",
    "click",
    "httpx",
    "prometheus_client",
    "mcp",
    "grpc",
    "nats",
)


def early(modules: list[str] | set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    names = [n for n in NOT_BEFORE_FIRST_SPAWN if n not in allowed]
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_launcher_starts_its_first_process_before_what_it_does_not_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, PROFILE)
    monkeypatch.setenv(first_spawn.ENV, "1")
    try:
        up = run_listing(["up"], tmp_path, tmp_path)
        assert up.code == 0, up.output
        cli = ("click", "stackfixtures.cli")  # (`stack up` is a click command of cli/)
        assert not early(up.modules, allowed=cli), early(up.modules, allowed=cli)
        others = ("bench", "report", "export", "top", "describe", "live.app", "live.session")
        assert not {f"stackfixtures.cli.{m}" for m in others} & up.modules
        listed = tmp_path / ".stack" / "dev" / first_spawn.NAME
        assert listed.stat().st_mode & 0o777 == 0o600
        said = json.loads(listed.read_text())
        assert said["service"] == "db"  # the first to start (web depends on it)
        modules = said["modules"]
        assert "stackfixtures._engine.process" in modules  # (it is the launcher's list)
        assert not early(modules), early(modules)
        assert said["gc"] is False  # its imports made with the collector held (_startup.py)
        status = run_stack(["status", "--json"], tmp_path)
        assert status.returncode == 0, status.stderr
        states = {s["name"]: s["state"] for s in json.loads(status.stdout)["services"]}
        assert states == {"db": "ready", "web": "ready"}
    finally:
        down = run_stack(["down"], tmp_path)
    assert down.returncode == 0, down.stdout + down.stderr
