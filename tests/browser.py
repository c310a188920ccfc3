"""A real headless browser for the tests: Selenium driving Debian's chromium.

`from .browser import browser` in a test module gives a Selenium webdriver (one per session
and xdist worker) on Debian's `chromium` and `chromium-driver`, installed with apt-get when
they are missing (as root; apt waits for the dpkg lock, so two workers may ask at once).
Chromium runs headless with a fresh 0700 profile directory and the flags that keep it off the
network (this machine has none: without them it retries Google's hosts at every start), so a
page that loads anything from outside loopback fails to load it rather than waiting.

The driver is stopped by its own pid when the session ends, and every chromium process it
started (its descendants, listed before the quit) is checked gone, bounded, and killed by pid
if one is left. Where no browser can be had, a test that asks for one is skipped with the
reason ("browser tests skipped: ..."), named in the run's summary; CI sets
`STACKFIXTURES_NEED_BROWSER=1`, which makes that a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import psutil
import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}
"""Each program the tests need and the Debian package that has it."""
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in CI: chromium's sandbox refuses to run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,900",
)
GONE_WITHIN = 10.0
"""Seconds the browser's processes have to exit after the driver quits."""


class Unavailable(Exception):
    """No browser can be had here, and why."""


def _need() -> bool:
    return os.environ.get("STACKFIXTURES_NEED_BROWSER") == "1"


def unavailable(why: str) -> NoReturn:
    if _need():
        pytest.fail(why.replace("skipped", "cannot run"))
    pytest.skip(why)


def programs() -> dict[str, str]:
    """The paths of chromium and chromedriver, installing Debian's packages when missing."""
    missing = [PACKAGES[p] for p in PACKAGES if not shutil.which(p)]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise Unavailable(f"{', '.join(missing)} missing and apt-get cannot install them")
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", *missing],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            raise Unavailable(f"apt-get install {' '.join(missing)} failed: {done.stderr[-300:]}")
    found = {p: shutil.which(p) for p in PACKAGES}
    absent = [p for p, path in found.items() if not path]
    if absent:
        raise Unavailable(f"installed, but {', '.join(absent)} is not on PATH")
    return {p: str(path) for p, path in found.items()}


@contextlib.contextmanager
def webdriver() -> Iterator[WebDriver]:
    """A Selenium webdriver on headless chromium; quit, and its processes checked gone, after."""
    from selenium import webdriver as wd
    from selenium.webdriver.chrome.service import Service

    paths = programs()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never looks for a driver
    with tempfile.TemporaryDirectory(prefix="sf-chromium-") as profile:  # 0700, unpredictable
        options = wd.ChromeOptions()
        options.binary_location = paths["chromium"]
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        service = Service(executable_path=paths["chromedriver"])
        driver = wd.Chrome(options=options, service=service)
        started = _descendants(service)
        try:
            driver.set_page_load_timeout(30)
            driver.set_script_timeout(30)
            yield driver
        finally:
            started |= _descendants(service)
            driver.quit()  # stops chromedriver by its own process handle
            _gone(started)


def _descendants(service: object) -> set[psutil.Process]:
    process = getattr(service, "process", None)
    if process is None:
        return set()
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(process.pid)
        return {root, *root.children(recursive=True)}
    return set()


def _gone(processes: set[psutil.Process]) -> None:
    """Wait (bounded) for the browser's processes to exit; kill by pid any left, and say so."""
    _, alive = psutil.wait_procs(list(processes), timeout=GONE_WITHIN)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if alive:
        raise AssertionError(f"the browser left processes running: {[p.pid for p in alive]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    """One headless chromium per session (and xdist worker), quit when the session ends."""
    try:
        programs()
    except Unavailable as e:
        unavailable(f"browser tests skipped: {e}")
    with webdriver() as driver:
        yield driver
