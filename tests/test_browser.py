"""The browser the dashboard's tests drive (tests/browser.py): Debian's headless chromium
loads a loopback page, runs its script, clicks, takes a screenshot, and leaves no process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import psutil
import pytest

from .browser import Unavailable, browser, programs, unavailable, webdriver

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.slow
__all__ = ["browser"]  # the fixture, imported for pytest

PAGE = b"""<!doctype html><title>probe</title>
<button id=go onclick="out.textContent = 'clicked ' + (1 + 1)">go</button>
<p id=out>not yet</p>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_it_loads_a_page_runs_its_script_and_clicks(browser: WebDriver, page_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(page_url)
    assert browser.find_element(By.ID, "out").text == "not yet"
    browser.find_element(By.ID, "go").click()
    assert browser.find_element(By.ID, "out").text == "clicked 2"
    assert browser.get_screenshot_as_png().startswith(b"\x89PNG\r\n\x1a\n")


def test_quitting_leaves_no_browser_process(page_url: str) -> None:
    try:
        programs()
    except Unavailable as e:
        unavailable(f"browser tests skipped: {e}")
    with webdriver() as driver:
        driver.get(page_url)
        root = psutil.Process(driver.service.process.pid)  # type: ignore[attr-defined]
        started = [root, *root.children(recursive=True)]
        assert any("chrom" in p.name() for p in started[1:]), [p.name() for p in started]
    assert not [p.pid for p in started if p.is_running() and p.status() != "zombie"]
