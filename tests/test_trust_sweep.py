"""A sweep stops only what is surely dead, and catches what escaped (issue 21, item 3, as a
newcomer found it on main): a stack registered by an older stackfixtures (no lock recorded,
or none on disk) is judged by its launcher's pid and start time, never swept while that says
alive; an in-process `sf.Stack` holds its lock while it runs; a daemon that left with
`setsid env -i` is recorded by the launcher (its subreaper) so that a launcher killed with
SIGKILL does not leave it running. Real processes throughout."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .cli_helpers import run_stack
from .conftest import DB_WEB, HTTP_APP, PY, wait_until, write_project


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A registry of crashed stacks of the test's own (others' sweeps must not interfere)."""
    return {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in a group of its own: killed with it afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        stop(p)


def old_stack(tmp_path: Path, env: dict[str, str], procs: list[subprocess.Popen[bytes]]) -> dict:
    """A stack as an older stackfixtures registered it (an in-process `sf.Stack` of a pytest
    session: the launcher is the session itself, its ledger `processes.json`, its registry
    entry with neither `lock` nor `state_dir`), with a real launcher and a real service."""
    stack_id = "aee9c7449581"
    state_dir = tmp_path / "old" / ".stack" / "pytest-dev"
    state_dir.mkdir(parents=True)
    launcher = subprocess.Popen(["sleep", "600"], start_new_session=True)
    procs.append(launcher)
    marked = {**os.environ, "STACKFIXTURES_STACK": stack_id, "STACKFIXTURES_SERVICE": "app"}
    app = subprocess.Popen(["sleep", "600"], env=marked, start_new_session=True)
    procs.append(app)
    wait_until(lambda: alive(launcher.pid) and alive(app.pid), timeout=10)
    started = psutil.Process(launcher.pid).create_time()
    ledger = state_dir / "processes.json"
    ledger.write_text(
        json.dumps(
            {
                "stack_id": stack_id,
                "launcher": {"pid": launcher.pid, "create_time": started},
                "processes": [
                    {
                        "service": "app",
                        "pid": app.pid,
                        "pgid": app.pid,
                        "create_time": psutil.Process(app.pid).create_time(),
                    }
                ],
            }
        )
    )
    registry = Path(env["STACKFIXTURES_REGISTRY"])
    registry.mkdir(mode=0o700)
    entry = {"ledger": str(ledger), "stack_id": stack_id, "pid": launcher.pid}
    (registry / f"{stack_id}.json").write_text(json.dumps({**entry, "create_time": started}))
    return {"id": stack_id, "launcher": launcher, "app": app, "state_dir": state_dir}


def test_a_live_stack_of_an_older_version_is_never_swept(
    tmp_path: Path, env: dict[str, str], procs: list[subprocess.Popen[bytes]]
) -> None:
    """Its lock cannot say (it has none): its launcher, alive, says it lives. Once that
    launcher is gone, its service is stopped, and the report says whose it was."""
    old = old_stack(tmp_path, env, procs)
    mine = tmp_path / "mine"
    write_project(mine, DB_WEB)
    out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
    assert "leftover" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert alive(old["app"].pid)
    stop(old["launcher"])  # now it crashed
    out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
    said = out.stdout + out.stderr
    assert f"leftover process(es) of crashed stack {old['id']} of unknown project" in said, said
    assert f"state dir {old['state_dir']}" in said
    wait_until(lambda: not alive(old["app"].pid), timeout=10)


def test_a_stack_whose_lock_file_is_gone_is_judged_by_its_launcher(
    tmp_path: Path, env: dict[str, str], procs: list[subprocess.Popen[bytes]]
) -> None:
    """A `lock` recorded but no file there (removed by hand, say): no lock says dead."""
    old = old_stack(tmp_path, env, procs)
    entry = Path(env["STACKFIXTURES_REGISTRY"]) / f"{old['id']}.json"
    info = json.loads(entry.read_text())
    info |= {"lock": str(old["state_dir"] / "launcher.lock"), "state_dir": str(old["state_dir"])}
    entry.write_text(json.dumps(info))
    mine = tmp_path / "mine"
    write_project(mine, DB_WEB)
    out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
    assert "leftover" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert alive(old["app"].pid)


IN_PROCESS = """
import asyncio, sys
from pathlib import Path
import stackfixtures as sf
from stackfixtures.define.graph import Graph

async def run(ctx):
    async with sf.spawn([sys.executable, {app!r}, "--port", "${{port}}"],
                        ready=sf.probe.http("/health")) as proc:
        yield sf.Handle(url=proc.url, port=proc.port, pid=proc.pid)

async def main():
    app = sf.ServiceDefinition(name="app", function=run, params=(), start_timeout=30)
    stack = sf.Stack(Graph({{"app": app}}), state_dir=Path(sys.argv[1]), root=Path(sys.argv[2]))
    handles = await stack.start()
    print(handles["app"].pid, flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await stack.close()

asyncio.run(main())
"""


def test_an_in_process_stack_holds_its_lock_while_it_runs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A pytest session's `sf.Stack` (no launcher): another project's sweep leaves it be."""
    script = tmp_path / "session.py"
    script.write_text(textwrap.dedent(IN_PROCESS.format(app=HTTP_APP)))
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    session = subprocess.Popen(
        [PY, str(script), str(theirs / ".stack" / "pytest-dev"), str(theirs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        assert session.stdout is not None
        app = int(session.stdout.readline())
        mine = tmp_path / "mine"
        write_project(mine, DB_WEB)
        out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
        assert "leftover" not in out.stdout + out.stderr, out.stdout + out.stderr
        assert alive(app)
        assert session.communicate("", timeout=30)[0] == ""  # closed its stack itself
        assert session.returncode == 0
        assert not alive(app)
    finally:
        stop(session)
