"""`stack run` and `stack validate` as a user runs them: a real subprocess, real services."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from .cli_helpers import StackProcess, run_stack
from .conftest import stubborn, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

TWO = """
[stack]
services = ["web"]

[services.db]
command = ["{PY}", "{APP}", "--port", "${port}", "--delay", "0.2"]
ready = { tcp = "${port}" }
stop = { signal = "SIGTERM", grace = 5 }

[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["db"]
env = { DB_PORT = "${db.port}" }
ready = { http = "http://127.0.0.1:${port}/health" }
"""


def launch(
    started: list[StackProcess], root: Path, *args: str, env: dict[str, str] | None = None
) -> StackProcess:
    p = StackProcess(["run", *args], cwd=root, env=env)
    started.append(p)
    return p


def endpoint(line: str) -> str:
    return next(word for word in line.split() if word.startswith("http://"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_until_signal_then_reverse_graceful_stop(
    tmp_path: Path, started: list[StackProcess], sig: int
) -> None:
    write_project(tmp_path, TWO)
    p = launch(started, tmp_path, "--profile", "dev")
    p.wait_for("NAME")
    p.wait_for("db ")  # rows come in start order
    web_row = p.wait_for("web ")
    url = endpoint(web_row)
    assert httpx.get(url + "/health").status_code == 200
    assert any(line.startswith("db  | http_app listening") for line in p.lines)  # prefixed output
    p.signal(sig)
    assert p.finish() == 0, p.output
    out = p.output
    assert out.index("web: ready -> stopping") < out.index("web: stopping -> stopped")
    assert out.index("web: stopping -> stopped") < out.index("db: ready -> stopping")
    assert "stopped 2 services gracefully" in out


def test_startup_order_is_gated_on_readiness(tmp_path: Path, started: list[StackProcess]) -> None:
    write_project(tmp_path, TWO)
    p = launch(started, tmp_path, "-p", "dev")
    p.wait_for("NAME")
    p.signal(signal.SIGINT)
    p.finish()
    assert p.output.index("db: starting -> ready") < p.output.index("web: waiting -> starting")


def test_named_service_starts_its_closure_only(tmp_path: Path, started: list[StackProcess]) -> None:
    write_project(tmp_path, TWO)
    p = launch(started, tmp_path, "-p", "dev", "db")
    p.wait_for("NAME")
    p.signal(signal.SIGINT)
    assert p.finish() == 0
    assert "web:" not in p.output


def test_forced_stop_exits_non_zero(tmp_path: Path, started: list[StackProcess]) -> None:
    write_project(tmp_path, stubborn(grace=0.3))
    p = launch(started, tmp_path, "-p", "dev")
    p.wait_for("NAME")
    p.signal(signal.SIGINT)
    assert p.finish() == 1
    assert "forced: grace 0.3s expired" in p.output
    assert "stopped; forced: stubborn" in p.output


def test_second_ctrl_c_skips_the_grace(tmp_path: Path, started: list[StackProcess]) -> None:
    write_project(tmp_path, stubborn(grace=300))
    p = launch(started, tmp_path, "-p", "dev")
    p.wait_for("NAME")
    p.signal(signal.SIGINT)
    p.wait_for("stubborn: ready -> stopping")
    p.wait_for("ignoring SIGTERM")
    time.sleep(0.6)  # a second press, not the same Ctrl-C forwarded twice
    p.signal(signal.SIGINT)
    assert p.finish(timeout=30) == 1
    assert "forced: hurried" in p.output


def test_startup_failure_exits_3_with_the_log_tail(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}", "--crash"]
ready = { tcp = "${port}" }
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["db"]
ready = { tcp = "${port}" }
""",
    )
    result = run_stack(["run", "-p", "dev"], tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout
    assert "error: service 'db' (starting): process exited with code 3" in out
    assert "| http_app: crashing on purpose" in out
    assert "web: waiting -> failed" in out
    assert "Traceback" not in out + result.stderr


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "[services.a]\ncommand=['x']\ndepends_on=['b']\n[services.b]\ncommand=['x']\ndepends_on=['a']",
            "dependency cycle: a -> b -> a",
        ),
        (
            "[services.a]\ncommand=['x']\ndepends_on=['ghost']",
            "service 'a' depends on 'ghost', which is not defined",
        ),
        (
            "[services.a]\ncommand=['x']\nscope='module'\n[services.b]\ncommand=['x']\ndepends_on=['a']",
            "session-scoped service 'b' depends on module-scoped 'a'",
        ),
        ("[services.a]\ncommand=['x']\nready={tcp=1, wat=2}", "services.a.ready.wat: unknown key"),
    ],
)
def test_validate_rejects_with_names(tmp_path: Path, profile: str, expected: str) -> None:
    path = write_project(tmp_path, profile)
    result = run_stack(["validate", "--profile", "dev"], tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_ok_prints_levels(tmp_path: Path) -> None:
    write_project(tmp_path, TWO)
    result = run_stack(["validate", "--profile", str(tmp_path / "profiles" / "dev.toml")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "start level 0: db" in result.stdout and "start level 1: web" in result.stdout


def test_help_describes_every_command(tmp_path: Path) -> None:
    top = run_stack(["--help"], tmp_path)
    assert top.returncode == 0 and "run" in top.stdout and "validate" in top.stdout
    for cmd in ("run", "validate"):
        sub = run_stack([cmd, "--help"], tmp_path)
        assert sub.returncode == 0 and "--profile" in sub.stdout


GRANDPARENT = """
[services.parent]
command = ["{PY}", "{APP}", "--port", "${port}", "--grandchild", "GRANDCHILD"]
ready = { tcp = "${port}" }

[services.forker]
command = ["{PY}", "{APP}", "--port", "${port}", "--daemon", "DAEMON"]
ready = { tcp = "${port}" }
"""


def write_grandparent(root: Path) -> None:
    """A project running GRANDPARENT: its grandchild's and its daemon's pids in `root`."""
    profile = GRANDPARENT.replace("GRANDCHILD", str(root / "gc.pid"))
    write_project(root, profile.replace("DAEMON", str(root / "daemon.pid")))


def test_sigkill_of_the_launcher_leaves_nothing(
    tmp_path: Path, started: list[StackProcess]
) -> None:
    import os

    import psutil

    write_grandparent(tmp_path)
    p = launch(started, tmp_path, "-p", "dev")
    p.wait_for("NAME")
    launcher = psutil.Process(p.proc.pid)
    tree = [c.pid for c in launcher.children(recursive=True)]
    others = [int((tmp_path / f).read_text()) for f in ("gc.pid", "daemon.pid")]
    assert all(psutil.pid_exists(pid) for pid in others)
    os.kill(launcher.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(
        [psutil.Process(x) for x in {*tree, *others} if psutil.pid_exists(x)], timeout=2
    )
    alive = [a for a in alive if a.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [a.cmdline() for a in alive]


def test_next_run_sweeps_a_crashed_stacks_leftovers_but_not_reused_pids(
    tmp_path: Path, started: list[StackProcess]
) -> None:
    import json
    import os
    import subprocess
    import sys

    import psutil

    write_grandparent(tmp_path)
    # A registry of its own: other tests' runs sweep crashed stacks too, and must not take
    # this test's leftovers before its own second run does.
    registry = {"STACKFIXTURES_REGISTRY": str(tmp_path / "registry")}
    p = launch(started, tmp_path, "-p", "dev", env=registry)
    p.wait_for("NAME")
    launcher = psutil.Process(p.proc.pid)
    # Crash the launcher *and* its watchdog: only the ledger is left to tell what ran.
    watchdog = next(
        c
        for c in psutil.process_iter(["cmdline"])
        if "stackfixtures._engine.cleanup.watchdog" in " ".join(c.info["cmdline"] or [])
        and str(tmp_path) in " ".join(c.info["cmdline"] or [])
    )
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (ledger_path,) = (tmp_path / ".stack" / "dev").glob("processes-*.json")
        data = json.loads(ledger_path.read_text())
        # A recorded pid now used by someone else (simulated: same pid, other start time).
        data["processes"].append(
            {
                "service": "ghost",
                "pid": unrelated.pid,
                "pgid": unrelated.pid,
                "create_time": psutil.Process(unrelated.pid).create_time() - 50,
            }
        )
        ledger_path.write_text(json.dumps(data))
        os.kill(watchdog.pid, signal.SIGKILL)
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait(5)
        daemon = int((tmp_path / "daemon.pid").read_text())
        grandchild = int((tmp_path / "gc.pid").read_text())
        assert psutil.pid_exists(daemon) and psutil.pid_exists(grandchild)  # left behind
        again = launch(started, tmp_path, "-p", "dev", "parent", env=registry)
        swept = again.wait_for("leftover process(es) of crashed stack")
        assert "pid" in swept
        again.wait_for("NAME")
        for pid in (daemon, grandchild):
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert unrelated.poll() is None  # the reused pid was not touched
        again.signal(signal.SIGINT)
        assert again.finish() == 0
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_signal_to_the_whole_process_group_stops_it_once_and_gracefully(
    tmp_path: Path, started: list[StackProcess]
) -> None:
    """npm, pnpm and CI runners signal the whole group: services live in groups of their own,
    so only the launcher gets it, and it stops them in order."""
    import os

    write_project(tmp_path, TWO)
    p = launch(started, tmp_path, "-p", "dev")
    p.wait_for("NAME")
    os.killpg(p.proc.pid, signal.SIGINT)  # StackProcess starts `stack` as a group leader
    assert p.finish() == 0, p.output
    assert p.output.count("SIGINT: stopping in reverse order") == 1
    assert "stopped 2 services gracefully" in p.output


def test_validate_json(tmp_path: Path) -> None:
    import json

    write_project(tmp_path, TWO)
    ok = run_stack(["validate", "--profile", "dev", "--json"], tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["levels"] == [["db"], ["web"]]
    write_project(tmp_path, "[services.a]\ncommand = ['x']\nwat = 1\n", name="bad")
    bad = run_stack(["validate", "--profile", "bad", "--json"], tmp_path)
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["key"] == "services.a.wat"
