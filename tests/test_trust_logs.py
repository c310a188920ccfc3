"""Issue 21, items 6 and 7: secrets masked before anything reaches disk, state files private,
logs written once and bounded, and a full disk an error of the service that hit it (not a
traceback while status says everything is fine)."""

from __future__ import annotations

import contextlib
import json
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackfixtures import _project as projects
from stackfixtures._engine import status as rows
from stackfixtures._engine.events import read_events
from stackfixtures.errors import DefinitionError, StartError

from .cli_helpers import run_stack
from .conftest import PY, until, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SECRET = "hunter2-Secret"
SAYS = f"echo PGPASSWORD={SECRET}; echo url=$DATABASE_URL; echo bare {SECRET}; sleep 60"

ECHO_SECRET = f"""
[services.db]
kind = "postgres"
source = "wheel"
password = "{SECRET}"

[services.app]
command = ["sh", "-c", "{SAYS}"]
env = {{ DATABASE_URL = "${{db.dsn}}" }}
depends_on = ["db"]
ready = {{ log = "bare" }}
"""


async def test_a_password_echoed_by_a_real_service_is_masked_in_its_log_file(
    tmp_path: Path, make_stack: Any
) -> None:
    stack = await make_stack(tmp_path, ECHO_SECRET)
    await stack.start(["app"])
    await stack.close()
    logs = tmp_path / "state" / "logs"
    app = (logs / "app.log").read_text()
    assert "PGPASSWORD=***" in app and "bare ***" in app and ":***@" in app, app
    for path in [*logs.iterdir(), tmp_path / "state" / "events.jsonl"]:
        assert SECRET not in path.read_text(), path


@contextlib.contextmanager
def open_to_others(*dirs: Path) -> Iterator[None]:
    """Directories made traversable for the `nobody` user, so that a file's own mode is what
    keeps another user out (whatever mode the state dir itself is made with)."""
    for d in dirs:
        d.chmod(0o755)
    yield


def readable_by_nobody(path: Path) -> bool:
    done = subprocess.run(["cat", str(path)], user="nobody", capture_output=True, timeout=10)
    return done.returncode == 0


ECHO = f"""
[services.app]
command = ["{PY}", "-c", "import time; print('hello-from-app', flush=True); time.sleep(60)"]
ready = {{ log = "hello-from-app" }}
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A project directory another local user could enter (not under pytest's 0700 tmp)."""
    path = Path(tempfile.mkdtemp(prefix="trust-logs-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_state_files_are_0600_and_unreadable_by_another_user(open_dir: Path) -> None:
    write_project(open_dir, ECHO)
    up = run_stack(["up", "-p", "dev"], open_dir, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    state = open_dir / ".stack" / "dev"
    try:
        ledgers = list(state.glob("processes-*.json"))
        assert ledgers, sorted(p.name for p in state.iterdir())
        private = [state / "logs" / "app.log", state / "events.jsonl", *ledgers]
        private.append(state / "launcher.log")
        with open_to_others(open_dir / ".stack", state, state / "logs"):
            for path in private:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
                assert not readable_by_nobody(path), path
    finally:
        down = run_stack(["down", "-p", "dev"], open_dir, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    last = state / "last-run.json"
    with open_to_others(open_dir / ".stack", state):
        assert stat.S_IMODE(last.stat().st_mode) == 0o600
        assert not readable_by_nobody(last)
    assert not list(state.glob("*.tmp")) and not list(state.glob(".*.tmp"))


def test_the_detached_launcher_log_holds_no_service_line(open_dir: Path) -> None:
    write_project(open_dir, ECHO)
    up = run_stack(["up", "-p", "dev"], open_dir, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        logs = run_stack(["logs", "-p", "dev", "app"], open_dir)
        assert "hello-from-app" in logs.stdout, logs.stdout + logs.stderr
    finally:
        run_stack(["down", "-p", "dev"], open_dir, timeout=120)
    state = open_dir / ".stack" / "dev"
    launcher = (state / "launcher.log").read_text()
    assert "hello-from-app" not in launcher, launcher
    assert "ready" in launcher  # its own lines are still there
    assert "hello-from-app" in (state / "logs" / "app.log").read_text()


FAILS = f"""
[services.app]
command = ["{PY}", "-c", "print('the-reason' + '-it-broke', flush=True); raise SystemExit(3)"]
ready = {{ log = "never" }}
"""


def test_a_failed_up_still_shows_the_service_lines(tmp_path: Path) -> None:
    write_project(tmp_path, FAILS)
    up = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    assert up.returncode != 0
    assert "the-reason-it-broke" in up.stdout + up.stderr
    launcher = (tmp_path / ".stack" / "dev" / "launcher.log").read_text()
    assert launcher.count("the-reason-it-broke") <= 1  # in its error, not as a line of its own
    assert "app | the-reason-it-broke" not in launcher


LOUD = f"""
[services.app]
command = ["{PY}", "-c", "import sys\\nfor i in range(30000): print(f'{{i:06d}}' + 'x' * 93)"]
task = true
logs = {{ max_size = "1MB", keep = 2 }}
"""


async def test_a_log_is_rotated_at_its_size_bound(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(tmp_path, LOUD)  # 3 MB of output
    await stack.start(["app"])
    await stack.close()
    files = sorted((tmp_path / "state" / "logs").glob("app.log*"))
    assert [f.name for f in files] == ["app.log", "app.log.1", "app.log.2"]
    for f in files:
        assert f.stat().st_size <= 1_000_000
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    last = (tmp_path / "state" / "logs" / "app.log").read_text().splitlines()
    assert last[-1].startswith("029999") or any(x.startswith("029999") for x in last)
    older = (tmp_path / "state" / "logs" / "app.log.1").read_text().splitlines()
    assert int(older[-1][:6]) + 1 == int(next(x for x in last if x[:6].isdigit())[:6])


@pytest.mark.parametrize(
    ("logs", "said"),
    [
        ('{ max_size = "-1MB" }', "out of range"),
        ('{ max_size = "lots" }', "not a size: 'lots'"),
        ('{ max_size = "1MB", keep = -1 }', "keep"),
        ('{ max_size = "1MB", every = 3 }', "every"),
        ('{ max_size = "1MB", keep = true }', "keep"),  # was taken as 1
        ('{ max_size = "1MB", keep = "3" }', "keep"),  # was taken as 3
        ("{ max_size = true }", "max_size"),  # was taken as 1 byte
    ],
)
def test_a_wrong_logs_setting_is_refused_where_it_is_written(
    tmp_path: Path, logs: str, said: str
) -> None:
    write_project(tmp_path, f'[stack]\nlogs = {logs}\n\n[services.app]\ncommand = ["true"]\n')
    with pytest.raises(DefinitionError) as e:
        projects.load("dev", root=tmp_path)
    text = str(e.value)
    assert "dev.toml:2:" in text and "logs" in text and said in text, text


def test_logs_of_the_stack_apply_unless_a_service_sets_its_own(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        '[stack]\nlogs = { max_size = "2MiB", keep = 1 }\n\n'
        '[services.a]\ncommand = ["true"]\n\n'
        '[services.b]\ncommand = ["true"]\nlogs = { max_size = 4096 }\n\n'
        '[services.c]\ncommand = ["true"]\n',
    )
    graph = projects.load("dev", root=tmp_path).graph
    assert (graph["a"].logs.max_size, graph["a"].logs.keep) == (2 * 2**20, 1)
    assert (graph["b"].logs.max_size, graph["b"].logs.keep) == (4096, 3)
    write_project(tmp_path, '[services.a]\ncommand = ["true"]\n')
    default = projects.load("dev", root=tmp_path).graph["a"].logs
    assert (default.max_size, default.keep) == (50_000_000, 3)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs root and mount rights (a full disk is simulated so)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


WRITES = "import time\\nfor i in range(10**6): print(f'line {i} ' + 'y' * 200); time.sleep(0.001)"
FILLS = f"""
[services.app]
command = ["{PY}", "-u", "-c", "{WRITES}"]
ready = {{ log = "line 0 " }}
"""


async def test_a_full_disk_is_the_services_error_not_a_traceback(
    tmp_path: Path, make_stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack(tmp_path, FILLS)
    logs = tmp_path / "state" / "logs"
    with small_tmpfs(logs):
        filler = logs / "filler"
        filler.write_bytes(b"\0" * 400_000)
        await stack.start(["app"])
        unit = stack.units["app"]
        await until(lambda: unit.log.problem is not None, timeout=60)
        row = rows.row(stack, "app")
        assert row["state"] == "ready"
        assert str(logs / "app.log") in row["reason"] and "ENOSPC" in row["reason"], row
        said = [e for e in stack.events.events if e.extra.get("log_error")]
        assert len(said) == 1 and "No space left on device" in said[0].reason
        filler.unlink()  # space comes back: writing resumes, saying what was lost
        await until(lambda: unit.log.problem is None, timeout=60)
        await stack.close()
        text = (logs / "app.log").read_bytes()
    assert text.endswith(b"\n")  # no half-written line
    assert b"log writing resumed" in text
    assert not [r for r in caplog.records if r.exc_info], caplog.text  # no traceback
    again = [e for e in stack.events.events if "written again" in e.reason]
    assert len(again) == 1
    events = read_events(tmp_path / "state" / "events.jsonl")
    assert any(e.extra.get("log_error") for e in events)


def fill(directory: Path) -> None:
    """Write into `directory` until its disk is full."""
    with contextlib.suppress(OSError), (directory / "filler").open("wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)


async def test_a_full_state_dir_leaves_no_traceback_and_no_temporary_file(
    tmp_path: Path, make_stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    with small_tmpfs(state, "2m"):
        stack = await make_stack(tmp_path, ECHO)
        await stack.start(["app"])
        fill(state)
        for _ in range(30):  # until even the last page of the event log is full
            await stack.stop(["app"])  # state changes on a full disk: kept in memory, said once
            try:
                await stack.start(["app"])
            except StartError as e:  # if it cannot start, it says where and why
                assert "No space left on device" in str(e) and str(state) in str(e), e
            if stack.events.problem is not None:
                break
        assert stack.events.problem is not None and "ENOSPC" in stack.events.problem
        await stack.close()
        assert [e.target for e in stack.events.events][-1] == "stopped"
        left = [p.name for p in state.rglob("*") if p.name.endswith(".tmp")]
        assert left == []
        for line in (state / "events.jsonl").read_text().splitlines():
            json.loads(line)  # whole lines only
    assert not [r for r in caplog.records if r.exc_info], caplog.text  # no traceback


def test_the_secrets_a_stack_knows_are_masked_whole_and_short_ones_only_in_urls() -> None:
    from stackfixtures._control import console
    from stackfixtures._engine import masking

    assert console.mask is masking.mask  # one source: the console re-exports the engine's
    secrets = masking.Secrets()
    secrets.add({"password": "p@ss word!", "user": "app"})
    secrets.add({"url": "redis://:t0k3n-x@127.0.0.1:1/0", "env": {"API_TOKEN": "abc"}})
    assert secrets.mask("PGPASSWORD=p@ss word! and t0k3n-x") == "PGPASSWORD=*** and ***"
    assert secrets.mask("postgresql://app:p%40ss%20word%21@h:1/db") == "postgresql://app:***@h:1/db"
    assert secrets.mask("abc app") == "abc app"  # too short to mask as bare text
    assert secrets.mask("x://u:abc@h") == "x://u:***@h"


BAD_PROBE = f"""
[services.app]
command = ["{PY}", "-c", "import time; time.sleep(60)"]
env = {{ APP_PASSWORD = "{SECRET}" }}
start_timeout = 5
ready = {{ exec = ["sh", "-c", "echo password $APP_PASSWORD refused >&2; exit 1"] }}
"""


def test_the_launcher_log_masks_the_secrets_a_failed_start_names(tmp_path: Path) -> None:
    """Review #15: the error a readiness probe ends with (its last output: the password) is
    written to launcher.log through the stack's masking, as the service log and events are."""
    write_project(tmp_path, BAD_PROBE)
    up = run_stack(["up", "-p", "dev"], tmp_path, timeout=120)
    assert up.returncode != 0, up.stdout + up.stderr
    launcher = (tmp_path / ".stack" / "dev" / "launcher.log").read_text()
    assert "password *** refused" in launcher, launcher
    assert SECRET not in launcher, launcher
    assert SECRET not in up.stdout + up.stderr, up.stdout + up.stderr
