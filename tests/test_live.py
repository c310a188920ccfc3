"""The live view: driven headless with Textual's own harness (App.run_test / Pilot) against a
real launcher, and as a person sees it, under a pseudo-terminal rendered by pyte."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from stackfixtures import _launcher as launcher
from stackfixtures._control import endpoint
from stackfixtures._control.remote import RemoteControl
from stackfixtures._launcher import detached
from stackfixtures.cli.live.app import STOPPED, LiveView
from stackfixtures.cli.live.feed import COLUMNS, Feed

from .cli_helpers import run_stack
from .conftest import DB_WEB, stubborn, until, write_project
from .pty_helpers import Terminal

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

TWO = '[stack]\nservices = ["web"]\n' + DB_WEB


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], RemoteControl]]:
    """A real launcher of the TWO profile, started detached as `stack up` does."""
    write_project(tmp_path, TWO)
    state = tmp_path / ".stack" / "dev"
    opts = launcher.Options(profile="dev", state_dir=str(state))
    proc, control = detached.start_detached(opts, tmp_path, state / "launcher.log", 60, until=None)
    try:
        yield proc, control
        control.close()
    finally:
        if proc.poll() is None:  # the test failed before stopping it: by pid, never by name
            proc.terminate()
            proc.wait(60)


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_row(row)[COLUMNS.index(column)])


def has_row(table: DataTable[Any], name: str) -> bool:
    return any(key.value == name for key in table.rows)


async def test_restart_key_restarts_the_selected_service_and_q_stops_the_stack(
    launched: tuple[subprocess.Popen[bytes], RemoteControl], tmp_path: Path
) -> None:
    proc, control = launched
    app = LiveView(control)
    async with app.run_test(size=(150, 40)) as pilot:
        table: DataTable[Any] = app.query_one(DataTable)
        await until(lambda: has_row(table, "web") and cell(table, "web", "state") == "ready")
        assert cell(table, "web", "restarts") == "0"
        assert cell(table, "db", "endpoint").startswith("http://127.0.0.1:")
        while app.selected != "web":
            await pilot.press("down")
        await pilot.press("r")
        await until(lambda: cell(table, "web", "restarts") == "1")
        await until(lambda: cell(table, "web", "state") == "ready")
        assert cell(table, "db", "restarts") == "0"  # only the selected one
        await pilot.press("q")
        await until(lambda: proc.poll() is not None and app.return_value == STOPPED)
    assert app.return_value == STOPPED
    last = json.loads((tmp_path / ".stack/dev/last-run.json").read_text())
    assert last["exit_code"] == 0
    assert {s["service"] for s in last["stops"]} == {"db", "web"}


async def test_follow_key_shows_every_service_log(
    launched: tuple[subprocess.Popen[bytes], RemoteControl],
) -> None:
    _, control = launched
    app = LiveView(control)
    async with app.run_test(size=(150, 40)) as pilot:
        table: DataTable[Any] = app.query_one(DataTable)
        await until(lambda: has_row(table, "web") and cell(table, "web", "state") == "ready")
        await pilot.press("f")
        lines = app.tail.of(None)
        assert any(line.startswith("db  | ") for line in lines)
        assert any(line.startswith("web | ") for line in lines)
        await pilot.press("q")
        await until(lambda: app.return_value == STOPPED)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for t in made:
        t.kill()


@pytest.mark.parametrize("quit_key", ["q", "\x03"], ids=["q", "ctrl-c"])
def test_stack_run_at_a_terminal_shows_the_view_and_quitting_stops_everything(
    tmp_path: Path, terminals: list[Terminal], quit_key: str
) -> None:
    write_project(tmp_path, TWO)
    dashboard = ["--dashboard"] if quit_key == "q" else []  # its URL shows in the view
    term = Terminal(["run", "-p", "dev", *dashboard], tmp_path)
    terminals.append(term)
    screen = term.wait_for("2/2 ready", "restart", "quit (stop the stack)")
    assert "[stack]" not in screen  # the view, not the plain lines
    if dashboard:
        assert "dashboard http://127.0.0.1:" in screen, screen
    ep, _ = endpoint.find(tmp_path / ".stack" / "dev")
    assert ep is not None and ep.alive()
    term.send(quit_key)
    assert term.finish() == 0, term.output()
    assert "stopped 2 services gracefully" in term.output()
    assert not ep.alive()  # the launcher is gone; the leak check sees to its services


def test_a_terminal_too_small_gets_a_readable_note(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    write_project(tmp_path, TWO)
    term = Terminal(["run", "-p", "dev"], tmp_path, cols=40, rows=10)
    terminals.append(term)
    term.wait_for("needs at least", "--no-tui")
    assert "Traceback" not in term.output()
    term.send("q")
    assert term.finish() == 0, term.output()


def test_dumb_terminal_keeps_the_plain_lines(tmp_path: Path, terminals: list[Terminal]) -> None:
    write_project(tmp_path, TWO)
    term = Terminal(["run", "-p", "dev"], tmp_path, env={"TERM": "dumb"})
    terminals.append(term)
    term.wait_for("NAME", "[stack] ready")
    term.send("\x03")  # the terminal turns it into SIGINT, as for any plain program
    assert term.finish() == 0, term.output()
    assert "web: stopping -> stopped" in term.output()
    assert "\x1b[" not in term.output()  # and no colours either


def test_up_attach_detach_then_attach_and_quit(tmp_path: Path, terminals: list[Terminal]) -> None:
    write_project(tmp_path, TWO)
    up = Terminal(["up", "--attach", "-p", "dev"], tmp_path)
    terminals.append(up)
    up.wait_for("2/2 ready", "detach")
    up.send("d")
    assert up.finish() == 0, up.output()
    assert "detached: the stack runs on" in up.output()
    status = run_stack(["status", "--json"], cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert {s["state"] for s in json.loads(status.stdout)["services"]} == {"ready"}
    again = Terminal(["attach"], tmp_path)
    terminals.append(again)
    again.wait_for("2/2 ready")
    again.send("q")
    assert again.finish() == 0, again.output()
    assert "stopped 2 services gracefully" in again.output()
    assert run_stack(["status"], cwd=tmp_path).returncode == 4  # nothing runs any more


def test_attach_without_a_terminal_says_so(tmp_path: Path) -> None:
    write_project(tmp_path, TWO)
    assert run_stack(["attach"], cwd=tmp_path).returncode == 4  # nothing to attach to
    up = run_stack(["up", "-p", "dev"], cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        result = run_stack(["attach"], cwd=tmp_path)
        assert result.returncode == 2
        assert "needs a terminal" in result.stderr
    finally:
        assert run_stack(["down"], cwd=tmp_path).returncode == 0


def test_a_failed_start_closes_the_view_and_says_why(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    write_project(
        tmp_path,
        """
[services.broken]
command = ["{PY}", "{APP}", "--port", "${port}", "--crash"]
ready = { tcp = "${port}" }
""",
    )
    term = Terminal(["run", "-p", "dev"], tmp_path)
    terminals.append(term)
    assert term.finish() == 3, term.output()
    assert "the stack failed to start" in term.output()
    assert "crashing on purpose" in term.output()


def test_quit_twice_leaves_the_view_and_ctrl_c_twice_skips_the_grace(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    write_project(tmp_path, stubborn(grace=300))
    term = Terminal(["run", "-p", "dev"], tmp_path)
    terminals.append(term)
    term.wait_for("1/1 ready")
    term.send("q")
    term.wait_for("STOPPING")
    term.send("q")  # the view closes; the stack goes on stopping
    term.wait_for("waiting for the stack to stop")
    for _ in range(2):  # two presses, not one delivered twice (see launcher.SAME_KEYPRESS)
        term.send("\x03")
        time.sleep(1.0)
    assert term.finish() == 1, term.output()  # forced
    assert "forced: stubborn" in term.output()


def test_the_view_masks_passwords_as_stack_run_does(tmp_path: Path) -> None:
    """A password in a log line or an endpoint is `***` in the live view, as in the plain
    lines (only `stack env` and --json give it)."""
    write_project(
        tmp_path,
        """
[services.web]
command = ["sh", "-c", "echo to postgresql://app:s3cret@127.0.0.1/db; exec {PY} {APP} --port $0",
           "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
""",
    )
    state = tmp_path / ".stack" / "dev"
    opts = launcher.Options(profile="dev", state_dir=str(state))
    proc, control = detached.start_detached(opts, tmp_path, state / "launcher.log", timeout=60)
    try:
        feed = Feed(control)
        lines = [line for _, line in feed.poll().lines]
        assert "to postgresql://app:***@127.0.0.1/db" in lines, lines
        assert not any("s3cret" in line for line in lines)
    finally:
        control.down(60)
        proc.wait(10)
