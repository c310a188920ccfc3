"""The pytest plugin's client of a shared launcher (xdist workers', --stack-reuse's, a running
stack's): a launcher that is alive but slow to answer (its event loop busy, a loaded machine)
is waited for within the client's own bound, not taken for a hung one after ANSWER seconds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stackfixtures import _project as projects
from stackfixtures._control import remote
from stackfixtures.pytest_plugin.shared import SharedBackend

from .cli_helpers import run_stack
from .conftest import wait_until

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

BUSY = """
import pathlib, time
import stackfixtures as sf


@sf.service
async def slow():
    yield sf.Handle(url="x")
    pathlib.Path("busy").write_text("1")
    time.sleep(2)  # blocks the launcher's event loop: it answers nothing meanwhile
"""


def test_a_busy_launcher_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    (tmp_path / "conftest.py").write_text(BUSY)
    up = run_stack(["up"], tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    proj = projects.load(None, root=tmp_path)
    backend = SharedBackend(proj, tmp_path / "local", proj.state_dir, None, None, True, True)
    stopping = threading.Thread(target=lambda: backend.remote().stop(["slow"]))
    try:
        control = backend.remote()
        monkeypatch.setattr(remote, "ANSWER", 0.3)  # a bound the busy loop outlasts
        stopping.start()
        wait_until(lambda: (tmp_path / "busy").exists(), 30)
        states = {s["name"]: s["state"] for s in control.status()["services"]}
        assert states["slow"] in ("stopping", "stopped")
    finally:
        if stopping.ident is not None:  # (started)
            stopping.join(30)
        backend.close()
        assert run_stack(["down"], tmp_path).returncode == 0
