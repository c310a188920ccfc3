"""The web dashboard (issue 25, item 1), served by `stack up --dashboard` (the launcher, over its
LoopControl) and by `stack dashboard` (over the control socket), driven by real HTTP requests
and a real headless chromium (tests/browser.py).

One stack is shared by the module's tests (its processes carry a mark of their own, checked
gone at the end); the tests run in order: the access checks, then the browser's."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .browser import browser as browser  # the session's chromium
from .cli_helpers import StackProcess, run_stack
from .conftest import free_port, module_stack, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

BOARD = """
[services.api]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
port = {PORT}

[services.gate]   # the same server, through a URL with a password in it
external = "http://agent:pw-s3cret-25@127.0.0.1:{PORT}/health"
depends_on = ["api"]

[services.worker]
command = ["{PY}", "-u", "-c",
           "import time; print('worker: found the needle-4711 here'); time.sleep(600)"]
depends_on = ["api"]
restart = { policy = "no" }
"""

MODULE_MARK = "I25_DASHBOARD_STACK"
URL = re.compile(r"dashboard: (http://127\.0\.0\.1:\d+/)\?token=([\w-]+)")
WAIT = 30.0
"""Seconds any one thing may take to show (bounded waits, never a test's timing)."""


class Board:
    """The shared stack's project and the dashboard `stack up --dashboard` printed."""

    def __init__(self, root: Path, base: str, token: str) -> None:
        self.root, self.base, self.token = root, base, token

    @property
    def url(self) -> str:
        return f"{self.base}?token={self.token}"

    def status(self) -> dict[str, dict[str, Any]]:
        done = run_stack(["status", "--json", "-p", "dev"], self.root)
        assert done.returncode == 0, done.stderr
        return {s["name"]: s for s in json.loads(done.stdout)["services"]}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    root = tmp_path_factory.mktemp("board")
    profile = BOARD.replace("{PORT}", str(free_port()))
    with module_stack(root, MODULE_MARK, "--dashboard", "-p", "dev", profile=profile) as up:
        found = URL.search(up)
        assert found, up
        yield Board(root, found.group(1), found.group(2))


def test_the_token_is_the_only_way_in(board: Board) -> None:
    """No token or a wrong one: 403 and nothing else, on every route (no cookie lets one in);
    the token is in no file of the stack's (logs, events, launcher.log)."""
    pid = board.status()["api"]["pid"]
    with httpx.Client(base_url=board.base, timeout=WAIT) as client:
        for path in ("", "assets/dashboard.js", "api/status", "api/stream", "api/logs"):
            for query in ({}, {"token": "wrong"}, {"token": board.token[:-1]}):
                refused = client.get(path, params=query)
                assert (refused.status_code, refused.text) == (403, "forbidden"), path
        for headers in ({}, {"x-stack-token": "wrong"}):
            refused = client.post("api/kill/api", headers=headers)
            assert (refused.status_code, refused.text) == (403, "forbidden")
        page = client.get("", params={"token": board.token})
        assert page.status_code == 200 and "<title>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "set-cookie" not in page.headers  # (see the next test)
        css = f'"assets/dashboard.css?token={board.token}"'
        assert css in page.text  # the page's own assets' URLs carry it
        assert client.get(css.strip('"')).status_code == 200
        assert client.get("assets/dashboard.css").status_code == 403
        unknown = client.post("api/restart/nope", headers={"x-stack-token": board.token})
        assert unknown.status_code == 404
        assert unknown.json()["error"].startswith("error: unknown service 'nope'")  # the CLI's
    assert board.status()["api"]["pid"] == pid  # nothing refused was done
    state = board.root / ".stack" / "dev"
    holding = [
        p for p in state.rglob("*") if p.is_file() and board.token.encode() in p.read_bytes()
    ]
    assert holding == []


def test_stack_dashboard_serves_a_running_stack(board: Board) -> None:
    """`stack dashboard` (over the control socket): its own URL and token, the stack's status
    and logs, an action's error in the CLI's words; Ctrl-C stops it, with a stream open,
    and the stack runs on."""
    shown = StackProcess(["dashboard", "-p", "dev"], board.root)
    try:
        found = URL.search(shown.wait_for("dashboard: ", timeout=WAIT))
        assert found is not None and found.group(2) != board.token
        base, token = found.group(1), found.group(2)
        assert httpx.get(base, timeout=WAIT).status_code == 403
        with httpx.Client(base_url=base, params={"token": token}, timeout=WAIT) as client:
            status = client.get("api/status").json()
            assert {s["name"]: s["state"] for s in status["services"]}["api"] == "ready"
            assert "pw-s3cret-25" not in json.dumps(status)  # hidden, as people see it
            endpoints = {s["name"]: s["endpoint"] for s in status["services"]}
            assert endpoints["gate"].startswith("http://agent:***@127.0.0.1:")
            logs = client.get("api/logs", params={"service": "worker"}).json()
            assert any("needle-4711" in line for line in logs["lines"])
            refused = client.post("api/stop/nope", headers={"x-stack-token": token})
            assert refused.json()["error"].startswith("error: unknown service 'nope'")
            later = {"service": "worker", "since": str(logs["mark"]), "wait": "10"}
            with ThreadPoolExecutor(1) as pool:  # a long poll for lines that never come
                polling = pool.submit(client.get, "api/logs", params=later)
                with client.stream("GET", "api/stream") as stream:
                    lines = stream.iter_lines()
                    assert next(lines) == "event: events"
                    shown.signal(signal.SIGINT)
                    assert shown.finish(timeout=WAIT) == 0
                    assert "event: status" in list(lines)  # ended, not cut
                # answered as the dashboard stopped (unless it came after: refused)
                with contextlib.suppress(httpx.ConnectError):
                    assert polling.result(WAIT).status_code == 503
        assert "the dashboard stopped (the stack runs on)" in shown.output
        assert "Traceback" not in shown.output
    finally:
        shown.kill()
    assert board.status()["api"]["state"] == "ready"


def test_stack_dashboard_on_a_port_in_use_says_so(board: Board) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_stack(["dashboard", "-p", "dev", "--port", str(port)], board.root)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: cannot serve the dashboard on 127.0.0.1:{port}: " in done.stderr
    assert "Traceback" not in done.stderr


def test_stack_dashboard_without_a_stack_says_so(tmp_path: Path) -> None:
    write_project(tmp_path, BOARD.replace("{PORT}", str(free_port())))
    done = run_stack(["dashboard", "-p", "dev"], tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "no stack is running" in done.stderr and "Traceback" not in done.stderr


def test_the_page_follows_and_steers_the_stack(board: Board, browser: Any) -> None:
    """In a real browser: everything from the dashboard's own origin; a service killed from
    the CLI turns red without a reload; its restart button restarts it (a new pid); stop asks
    first; the log search finds the line the service printed; the timeline has its spans."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def row(name: str) -> Any:
        return browser.find_element(By.CSS_SELECTOR, f'tr[data-service="{name}"]')

    def shows(name: str, state: str) -> None:
        wait.until(lambda _: row(name).get_attribute("data-state") == state)

    def press(name: str, action: str) -> None:
        row(name).find_element(By.CSS_SELECTOR, f'button[data-action="{action}"]').click()

    # (a row found may be drawn anew before it is read: found again)
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=[StaleElementReferenceException])
    browser.get(board.url)
    shows("worker", "ready")
    origin = board.base.rstrip("/")
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(url.startswith(origin + "/") for url in loaded), loaded
    gate = row("gate").find_element(By.CSS_SELECTOR, "td.endpoint").text
    assert gate.startswith("http://agent:***@") and "pw-s3cret-25" not in browser.page_source
    browser.execute_script("window.sameDocument = 'yes'")  # gone if the page reloads
    before = board.status()["worker"]["pid"]

    killed = run_stack(["kill", "worker", "-p", "dev"], board.root)
    assert killed.returncode == 0, killed.stderr
    shows("worker", "failed")
    badge = row("worker").find_element(By.CSS_SELECTOR, "td.state span")
    assert badge.value_of_css_property("background-color") == "rgba(198, 40, 40, 1)"  # red
    assert browser.execute_script("return window.sameDocument") == "yes"

    press("worker", "restart")
    shows("worker", "ready")
    after = board.status()["worker"]
    assert after["state"] == "ready" and after["pid"] not in (None, before)
    wait.until(lambda d: d.find_element(By.ID, "message").text == "worker: ready")

    press("worker", "stop")  # asks first: dismissed, nothing happens; accepted, it stops
    wait.until(expected_conditions.alert_is_present()).dismiss()
    assert board.status()["worker"]["pid"] == after["pid"]
    press("worker", "stop")
    wait.until(expected_conditions.alert_is_present()).accept()
    shows("worker", "stopped")
    press("worker", "start")
    shows("worker", "ready")

    browser.find_element(By.CSS_SELECTOR, '#log-tabs button[data-service="worker"]').click()
    browser.find_element(By.ID, "log-search").send_keys("needle-4711")
    matches = "#log-lines .line.match"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, matches))
    found = [e.text for e in browser.find_elements(By.CSS_SELECTOR, matches)]
    assert found and all("worker: found the needle-4711 here" in text for text in found)
    shown = [
        e for e in browser.find_elements(By.CSS_SELECTOR, "#log-lines .line") if e.is_displayed()
    ]
    assert {e.text for e in shown} == set(found)  # the rest hidden while searching

    spans = "#timeline rect[data-state]"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, spans))
    drawn = {e.get_attribute("data-state") for e in browser.find_elements(By.CSS_SELECTOR, spans)}
    assert {"starting", "ready", "failed"} <= drawn


def test_no_other_server_on_loopback_gets_the_token(board: Board, browser: Any) -> None:
    """Cookies are per host, not per port: a cookie holding the token went to every server on
    127.0.0.1 the browser then visited (the stack's own services, another user's). The page
    loads without one, and such a server is sent nothing of the token."""
    import http.server
    import threading

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(board.url)
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-service="worker"][data-state]')
    )
    heard: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(str(self.headers))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    serving = threading.Thread(target=other.serve_forever)
    serving.start()
    try:
        browser.get(f"http://127.0.0.1:{other.server_address[1]}/")
    finally:
        other.shutdown()
        serving.join(WAIT)
        other.server_close()
    assert heard and not [h for h in heard if board.token in h], heard


def test_stack_run_serves_it_until_the_stack_stops(tmp_path: Path) -> None:
    """`stack run --dashboard` in the foreground prints its URL; Ctrl-C stops the stack and the
    dashboard with it, a stream that was open ended, not cut (and no traceback)."""
    write_project(tmp_path, BOARD.replace("{PORT}", str(free_port())))
    running = StackProcess(["run", "--no-tui", "--dashboard", "-p", "dev"], tmp_path)
    try:
        found = URL.search(running.wait_for("dashboard: ", timeout=WAIT))
        assert found is not None
        params = {"token": found.group(2)}
        running.wait_for("[stack] ready", timeout=WAIT)
        with httpx.Client(base_url=found.group(1), params=params, timeout=WAIT) as client:
            assert client.get("").status_code == 200
            with client.stream("GET", "api/stream") as stream:
                lines = stream.iter_lines()
                assert next(lines) == "event: events"
                running.signal(signal.SIGINT)
                rest = list(lines)  # to its end: the server closed it as it stopped
            assert "event: status" in rest
        assert running.finish(timeout=WAIT) == 0
    finally:
        running.kill()
    assert "Traceback" not in running.output and "stopped 3 services gracefully" in running.output


def test_stack_dashboard_ends_with_its_stack(tmp_path: Path) -> None:
    profile = BOARD.replace("{PORT}", str(free_port()))
    with module_stack(tmp_path, "I25_DASHBOARD_ENDS", "-p", "dev", profile=profile):
        shown = StackProcess(["dashboard", "-p", "dev"], tmp_path)
        try:
            shown.wait_for("dashboard: ", timeout=WAIT)
            assert run_stack(["down", "-p", "dev"], tmp_path).returncode == 0
            assert shown.finish(timeout=WAIT) == 0
        finally:
            shown.kill()
    assert "the stack went away" in shown.output and "Traceback" not in shown.output
