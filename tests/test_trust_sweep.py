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
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from . import test_trust_liveness as liveness
from .cli_helpers import run_stack
from .conftest import DB_WEB, HTTP_APP, PY, wait_until, write_project
from .trust_helpers import alive, watchdog_of

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

env = liveness.env  # (its fixture, shared)


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
from stackfixtures._define.graph import Graph

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


DAEMONS = """
[services.db]
command = ["sh", "-c", "setsid -f sh -c 'echo $$ > ONE; exec env -i sleep 4321'; (setsid sh -c 'echo $$ > TWO; exec env -i sleep 4322' &); exec '{PY}' '{APP}' --port ${port}"]
ready = { tcp = "${port}" }
"""  # noqa: E501


def escaping(root: Path, env: dict[str, str]) -> tuple[int, list[int]]:
    """DAEMONS up at `root`: its launcher's pid, and the two daemons' once its ledger lists
    them (no marker, no group, no session of the stack's: only the subreaper saw them)."""
    files = [root / "one.pid", root / "two.pid"]
    profile = DAEMONS.replace("ONE", str(files[0])).replace("TWO", str(files[1]))
    write_project(root, profile)
    out = run_stack(["up", "-p", "dev"], root, timeout=60, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_until(lambda: all(f.exists() and f.read_text().strip() for f in files), timeout=10)
    daemons = [int(f.read_text()) for f in files]
    state = root / ".stack" / "dev"

    def listed() -> set[int]:
        found = set()
        for ledger in state.glob("processes-*.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(ledger.read_text())
                found |= {p["pid"] for p in data["processes"] if p.get("orphan")}
        return found

    wait_until(lambda: set(daemons) <= listed(), timeout=15)
    launcher = int(json.loads((state / "control.json").read_text())["pid"])
    return launcher, daemons


@pytest.fixture
def daemons() -> Iterator[list[int]]:
    """Pids of daemons a test's stack let escape: killed afterwards if still there."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_escaped_daemons_die_with_a_launcher_killed_by_sigkill(
    tmp_path: Path, env: dict[str, str], daemons: list[int]
) -> None:
    """`setsid -f env -i` and `(setsid env -i ... &)`: the watchdog stops them too."""
    launcher, escaped = escaping(tmp_path, env)
    daemons += escaped
    assert all(alive(pid) for pid in escaped)
    os.kill(launcher, signal.SIGKILL)
    wait_until(lambda: not any(alive(pid) for pid in escaped), timeout=15)
    run_stack(["down", "-p", "dev"], tmp_path, timeout=30, env=env)


def test_escaped_daemons_of_a_crashed_stack_are_swept_as_orphans(
    tmp_path: Path, env: dict[str, str], daemons: list[int]
) -> None:
    """Its watchdog gone too: the next sweep stops them, and says they were orphans."""
    launcher, escaped = escaping(tmp_path / "theirs", env)
    daemons += escaped
    os.kill(watchdog_of(tmp_path / "theirs").pid, signal.SIGKILL)
    os.kill(launcher, signal.SIGKILL)
    wait_until(lambda: not alive(launcher), timeout=10)
    assert all(alive(pid) for pid in escaped)
    mine = tmp_path / "mine"
    write_project(mine, DB_WEB)
    out = run_stack(["down", "-p", "dev"], mine, timeout=30, env=env)
    said = out.stdout + out.stderr
    for pid in escaped:
        assert f"orphan pid {pid}" in said or f"orphan of db pid {pid}" in said, said
    wait_until(lambda: not any(alive(pid) for pid in escaped), timeout=10)
