"""Make docs/dashboard.png: the dashboard of the project's dev profile (postgres, redis, nats,
the gateway and its agents), after a restart and a crash, in the tests' headless chromium.

    .venv/bin/python docs/screenshot_dashboard.py

It starts the stack with `stack up --dashboard` in a state dir of its own (a temporary one),
restarts the gateway, kills redis (it fails; the gateway and its agents stop) and starts them
again, shows postgres's log searched for "ready", writes the picture and stops the stack,
whatever happened.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # (tests.browser: the same browser the tests use)

from tests.browser import webdriver  # noqa: E402

STACK = str(Path(sys.executable).parent / "stack")
OUT = ROOT / "docs" / "dashboard.png"
WAIT = 60.0


def stack(*args: str) -> str:
    done = subprocess.run(
        [STACK, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"stack {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def states(where: list[str]) -> dict[str, str]:
    rows = json.loads(stack("status", "--json", *where))["services"]
    return {s["name"]: s["state"] for s in rows}


def until(where: list[str], wanted: dict[str, str]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        now = states(where)
        if all(now[name] == state for name, state in wanted.items()):
            return
        time.sleep(0.2)
    raise SystemExit(f"not {wanted} within {WAIT:g}s: {states(where)}")


def main() -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="sf-shot-") as state:
        where = ["-p", "dev", "--state-dir", state]
        up = stack("up", "--dashboard", *where)
        url = re.search(r"dashboard: (\S+)", up)
        try:
            assert url is not None, up
            stack("restart", "api_gateway", *where)
            stack("kill", "redis", *where)  # no restart policy: it fails, dependents stop
            until(where, {"redis": "failed", "api_gateway": "stopped"})
            time.sleep(1)  # (a visible span of it on the timeline)
            stack("start", "api_gateway", "agents", *where)  # redis comes back with them
            until(where, dict.fromkeys(["postgres", "redis", "nats", "api_gateway"], "ready"))
            with webdriver() as driver:
                driver.set_window_size(1280, 900)
                driver.get(url.group(1))
                wait = WebDriverWait(driver, WAIT)
                rows = 'tr[data-service][data-state="ready"]'
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 5)
                driver.find_element(
                    By.CSS_SELECTOR, '#log-tabs button[data-service="postgres"]'
                ).click()
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#log-lines .line"))
                driver.find_element(By.ID, "log-search").send_keys("ready")
                driver.find_element(By.ID, "message").click()  # (no caret in the picture)
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline rect"))
                height = driver.execute_script("return document.documentElement.scrollHeight")
                metrics = {"width": 1280, "height": int(height), "deviceScaleFactor": 1}
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride", {**metrics, "mobile": False}
                )
                time.sleep(0.5)  # the resize's repaint (a picture, not a test)
                driver.save_screenshot(str(OUT))
        finally:
            stack("down", *where)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
