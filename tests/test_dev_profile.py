"""The README's main job: `stack run --profile dev`, then a task created with a plain HTTP
request to the printed gateway URL is completed by an agent."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import httpx
import pytest

from .cli_helpers import StackProcess

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

ROOT = Path(__file__).resolve().parent.parent


def test_dev_stack_serves_tasks_end_to_end(tmp_path: Path) -> None:
    p = StackProcess(["run", "--profile", "dev", "--state-dir", str(tmp_path / "state")], cwd=ROOT)
    try:
        p.wait_for("NAME", timeout=120)
        url = next(w for w in p.wait_for("api_gateway ").split() if w.startswith("http://"))
        created = httpx.post(url + "/tasks", json={"payload": "from curl"}, trust_env=False)
        assert created.status_code == 201
        task_id = created.json()["id"]
        deadline = time.monotonic() + 30
        view = {}
        while time.monotonic() < deadline:
            view = httpx.get(f"{url}/tasks/{task_id}", trust_env=False).json()
            if view["status"] == "done":
                break
            time.sleep(0.05)
        assert view["result"] == hashlib.sha256(b"from curl").hexdigest()
        p.signal(signal.SIGINT)
        assert p.finish(timeout=60) == 0, p.output
        assert "stopped 5 services gracefully" in p.output
    finally:
        p.kill()
