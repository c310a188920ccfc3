"""Issue 15, once things run: user code's exceptions shown once with their frames, progress
while waiting, a process that exits failing at once, causes rather than symptoms, and the
small things (plurals, quoting, --help, Mermaid)."""

from __future__ import annotations

import re
import signal
import textwrap
from pathlib import Path

import click
import pytest

import stackfixtures as sf
from stackfixtures import _project as projects
from stackfixtures.cli import SHORT_HELP, main

from .cli_helpers import run_stack
from .conftest import start_error, write_project

BROKEN_CONFTEST = """\
import stackfixtures as sf


def helper(ctx):
    ctx.log("hi")


@sf.service
async def echo(ctx):
    helper(ctx)
    yield sf.Handle(url="x")
"""


@pytest.mark.slow
def test_user_code_traceback_appears_once_in_a_pytest_report(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[project]\nname = 'x'\nversion = '0'\n")
    pytester.makeconftest(BROKEN_CONFTEST)
    pytester.makepyfile(test_echo="def test_echo(echo):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "During handling of the above exception" not in out
    block = [
        "service 'echo' (starting): raised TypeError: 'ServiceLog' object is not callable",
        "  at conftest.py:10 in echo: helper(ctx)",
        '  at conftest.py:5 in helper: ctx.log("hi")',
    ]
    result.stdout.fnmatch_lines(block, consecutive=True)
    # pytest repeats the message in its short summary (whole when $CI is set), so count the report
    report = out.split("short test summary info")[0]
    assert report.count("at conftest.py:5 in helper") == 1


@pytest.mark.slow
def test_user_code_traceback_in_stack_run(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    (tmp_path / "conftest.py").write_text(BROKEN_CONFTEST)
    result = run_stack(["run"], tmp_path)
    assert result.returncode == 3
    assert (
        "error: service 'echo' (starting): raised TypeError: 'ServiceLog' object is not callable\n"
        "  at conftest.py:10 in echo: helper(ctx)\n"
        '  at conftest.py:5 in helper: ctx.log("hi")\n'
    ) in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_progress_while_waiting_and_a_timeout_that_says_what_happened(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.slow]
command = ["{PY}", "-c", "import time; time.sleep(60)"]
ready = { http = "http://127.0.0.1:${port}/health" }
start_timeout = 2
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["slow"]
""",
    )
    result = run_stack(["run", "-p", "dev"], tmp_path, env={"STACKFIXTURES_PROGRESS_EVERY": "0.3"})
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout
    progress = [line for line in out.splitlines() if "slow: still starting after" in line]
    assert progress, out
    assert re.search(
        r"waiting for http http://127\.0\.0\.1:\d+/health \(last: GET http://127\.0\.0\.1:\d+"
        r"/health: connection refused \(nothing listens there\)\); gives up after 2s",
        progress[-1],
    ), progress[-1]
    assert re.search(r"\[stack\] web: still waiting after \d+s for slow", out), out
    error = next(line for line in out.splitlines() if line.startswith("error: "))
    assert "${port}" not in error
    assert re.search(
        r"error: service 'slow' \(starting\): readiness probe http http://127\.0\.0\.1:\d+/health "
        r"did not pass within [\d.]+s \(last attempt: GET .*: connection refused \(nothing listens "
        r"there\)\); its process \d+ is still running",
        error,
    ), error


@pytest.mark.slow
async def test_a_process_that_exits_before_ready_fails_without_waiting(tmp_path: Path) -> None:
    @sf.service(start_timeout=3)
    async def quitter() -> object:
        # the probe takes far longer than the start timeout: only the exit can end the wait
        probe = sf.probe.exec_("sleep", "30", timeout=60)
        async with sf.spawn(["sh", "-c", "sleep 0.2; echo bye; exit 2"], ready=probe) as p:
            yield sf.Handle(pid=p.pid)

    said = str(await start_error(tmp_path, quitter, sf.ProcessExited))
    assert said.startswith(
        "service 'quitter' (starting): process exited with code 2 before readiness probe "
        "exec sleep 30 passed"
    )
    assert said.rstrip().endswith("| bye")


DB_WEB_STOP = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
[services.web]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = { db = "stop" }
ready = { tcp = "${port}" }
"""
"""`web` stops when `db` goes down (its `stop` edge); both the test HTTP app, tcp probes."""


@pytest.mark.slow
async def test_dependents_stopped_by_a_killed_dependency_say_so(make_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack = await make_stack(tmp_path, DB_WEB_STOP)
    await stack.start()
    stack.kill("db", signal.SIGKILL)
    await stack.wait_for("web", sf.State.STOPPED)
    moves = {(e.service, e.target): e.reason for e in stack.events.events}
    assert re.fullmatch(r"process \d+ killed by SIGKILL", moves[("db", "failed")])
    assert moves[("web", "stopping")] == "db failed: killed by SIGKILL"
    assert moves[("web", "stopped")] == "graceful (db failed: killed by SIGKILL)"
    assert "[stackfixtures] stopping: db failed: killed by SIGKILL" in stack.units["web"].log.tail()
    db, web = stack.metrics("db"), stack.metrics("web")
    assert db["reason"].endswith(" killed by SIGKILL") and db["last_exit_code"] == -9
    assert web["reason"] == "graceful (db failed: killed by SIGKILL)" and web["health"] is None


STATUS = (
    DB_WEB_STOP
    + """
[services.idle]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }
liveness = { tcp = "${port}", period = 0.2 }
"""
)


@pytest.mark.slow
def test_status_and_events_say_why_and_when(tmp_path: Path) -> None:
    write_project(tmp_path, STATUS)
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        assert run_stack(["kill", "db", "-s", "SIGKILL"], tmp_path).returncode == 0
        for _ in range(100):
            table = run_stack(["status"], tmp_path).stdout
            if re.search(r"^web +stopped", table, re.M):
                break
        lines = table.splitlines()
        header = lines[1].split()
        assert header == [
            *("NAME", "STATE", "PID", "ENDPOINT", "UPTIME", "RESTARTS", "HEALTH"),
            *("RSS_MB", "CPU_PERCENT", "LAST_EXIT", "REASON"),
        ]
        rows = {line.split()[0]: line for line in lines[2:]}
        assert "SIGKILL" in rows["db"] and rows["db"].rstrip().endswith(" killed by SIGKILL")
        assert rows["web"].rstrip().endswith("graceful (db failed: killed by SIGKILL)")
        assert "http://" not in rows["web"] and " - " in rows["web"]  # no endpoint; no health
        assert re.search(r" \d+s +0 +(ok|unknown) ", rows["idle"]), rows["idle"]
        events = run_stack(["events"], tmp_path).stdout.splitlines()
        stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[stack\] "
        assert events and all(re.match(stamp, e) for e in events), events
        assert any(
            e.endswith("web: ready -> stopping  (db failed: killed by SIGKILL)") for e in events
        )
    finally:
        down = run_stack(["down"], tmp_path)
    assert "stopped 1 service gracefully" in down.stdout, down.stdout  # only idle was running


@pytest.mark.slow
def test_help_lines_fit_and_exec_lines_are_quoted_and_mermaid_is_plain(tmp_path: Path) -> None:
    def commands(group: click.Group) -> list[str]:
        out = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # (each loads its module: cli/__init__.py)
            out.append(name)
            cmd = group.get_command(ctx, name)
            if isinstance(cmd, click.Group):
                out += commands(cmd)
        return out

    assert set(commands(main)) <= set(SHORT_HELP)
    for args in (["--help"], ["bench", "--help"], ["export", "--help"]):
        help_text = run_stack(args, tmp_path, env={"COLUMNS": "80"}).stdout
        assert "..." not in help_text.split("Commands:")[1], help_text
    write_project(
        tmp_path,
        """
[services.postgres]
kind = "postgres"
[services.job]
command = ["sh", "-c", "echo 'a b'"]
task = true
""",
    )
    mermaid = run_stack(["graph", "-p", "dev", "--format", "mermaid"], tmp_path).stdout
    assert '  postgres["postgres"]' in mermaid and '  job["job<br/>command"]' in mermaid
    ran = run_stack(["run", "-p", "dev", "--exit-code-from", "job", "job"], tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "job | [stackfixtures] run: sh -c 'echo '\"'\"'a b'\"'\"''" in ran.stdout
    assert "stopped 1 service gracefully" in ran.stdout


def test_a_module_that_does_not_import_is_named_at_its_entry(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(textwrap.dedent("import stackfixtures\n\nundefined_name\n"))
    write_project(tmp_path, '[stack]\nmodules = ["svc.py"]\n')
    with pytest.raises(sf.ProfileError) as info:
        projects.load("dev", root=tmp_path)
    assert info.value.key == "stack.modules[0]" and info.value.line == 2
    assert info.value.problem == (
        "cannot import service module 'svc.py': NameError: name 'undefined_name' is not "
        "defined\n  at svc.py:3 in <module>: undefined_name"
    )
