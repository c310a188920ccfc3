"""Restart on change: a real `stack run`/`stack up`, a real file edited, a real HTTP app that
serves the file's content as it read it at start."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from stackfixtures._launcher.watch import QUIET, Watch, base_dir

from .cli_helpers import StackProcess, run_stack
from .conftest import wait_until, write_project

WATCHED = """
[stack]
services = ["client"]

[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}", "--serve-file", "${root}/data/served.txt",
           "--delay", "0.5"]
depends_on = ["db"]
ready = { http = "http://127.0.0.1:${port}/health" }
watch = ["data/*.txt"]
ignore = ["data/*.tmp.txt"]

[services.client]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["web"]
ready = { tcp = "${port}" }
"""

WEB_RESTARTED = "web: ready -> stopping  (restarting (changed: data/served.txt))"


@pytest.fixture
def served(tmp_path: Path) -> Path:
    write_project(tmp_path, WATCHED)
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "served.txt"
    path.write_text("one")
    return path


def content(url: str) -> str | None:
    try:
        return str(httpx.get(url + "/file", timeout=2).json()["content"])
    except httpx.HTTPError:
        return None  # between its stop and its next start


def run(started: list[StackProcess], root: Path) -> tuple[StackProcess, str]:
    p = StackProcess(["run", "--no-tui", "-p", "dev"], cwd=root)
    started.append(p)
    p.wait_for("NAME")
    return p, endpoint(root, "web")


def endpoint(root: Path, service: str) -> str:
    status = json.loads(run_stack(["status", "--json", "-p", "dev"], cwd=root).stdout)
    return str(next(s["endpoint"] for s in status["services"] if s["name"] == service))


def test_patterns_are_gitignore_style_under_the_root() -> None:
    assert base_dir("backend/**/*.py") == "backend"
    assert base_dir("/src/app/*.py") == "src/app"
    assert base_dir("*.py") == ""
    w = Watch("gateway", ("backend/**/*.py",), ("backend/tests/",))
    assert w.matches("backend/gateway.py")
    assert w.matches("backend/agents/worker.py")
    assert not w.matches("backend/tests/test_gateway.py")
    assert not w.matches("bench/backend/x.py")


@pytest.mark.slow
def test_an_edit_restarts_the_service_its_dependents_follow_and_a_burst_is_one_restart(
    served: Path, started: list[StackProcess]
) -> None:
    p, url = run(started, served.parent.parent)
    assert "[stack] watching: web (data/*.txt)" in p.output
    assert content(url) == "one"
    served.write_text("two")
    wait_until(lambda: content(url) == "two")
    for i in range(5):  # an editor saving, a formatter rewriting: one burst
        served.write_text(f"burst {i}")
    wait_until(lambda: content(url) == "burst 4")
    time.sleep(3 * QUIET)  # time for a wrongly split burst to show a second restart
    p.signal(signal.SIGINT)
    assert p.finish() == 0, p.output
    out = p.output
    assert out.count(WEB_RESTARTED) == 2, out
    assert "web: stopped -> waiting  (restarting (changed: data/served.txt); waiting for db)" in out
    first = out.index(WEB_RESTARTED)
    assert out.index("client: ready -> stopping", 0) < first  # dependents stop first ...
    assert first < out.index("client: stopped -> waiting", first)  # ... and come back after
    assert "db: ready -> stopping  (restarting" not in out  # what it depends on is untouched


@pytest.mark.slow
def test_a_change_during_a_restart_is_not_lost(served: Path, started: list[StackProcess]) -> None:
    p, url = run(started, served.parent.parent)
    served.write_text("two")
    p.wait_for(WEB_RESTARTED)
    p.wait_for("web: waiting -> starting")  # the restart is under way
    served.write_text("three")
    wait_until(lambda: content(url) == "three")
    p.signal(signal.SIGINT)
    assert p.finish() == 0, p.output


@pytest.mark.slow
def test_stack_up_watch_ignores_what_the_profile_ignores(served: Path) -> None:
    root = served.parent.parent
    up = run_stack(["up", "--watch", "-p", "dev", "--json"], cwd=root)
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(up.stdout)
        assert status["stack"]["watching"] == {"web": ["data/*.txt"]}
        url = next(s["endpoint"] for s in status["services"] if s["name"] == "web")
        (served.parent / "scratch.tmp.txt").write_text("ignored")
        served.write_text("two")
        wait_until(lambda: content(url) == "two")
    finally:
        down = run_stack(["down", "-p", "dev"], cwd=root)
    assert down.returncode == 0, down.stdout + down.stderr
    log = (root / ".stack/dev/events.jsonl").read_text()
    events = [json.loads(line) for line in log.splitlines()]
    restarts = [e["reason"] for e in events if e["service"] == "web" and e["to"] == "stopping"]
    assert restarts == ["restarting (changed: data/served.txt)", "stop requested"]


@pytest.mark.slow
def test_a_pattern_that_matches_nothing_is_a_warning(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
watch = ["nothere/**/*.py"]
""",
    )
    p = StackProcess(["run", "--no-tui", "-p", "dev"], cwd=tmp_path)
    try:
        line = p.wait_for("warning:")
        p.wait_for("NAME")
        p.signal(signal.SIGINT)
        assert p.finish() == 0
    finally:
        p.kill()
    assert f"web: watch pattern 'nothere/**/*.py' matches no file under {tmp_path}" in line
