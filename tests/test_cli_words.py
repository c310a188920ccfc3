"""The words people type (issue 22, items 3, 8, 9): the profile found without `-p`, did-you-mean
for profiles and commands, Docker Compose's `ps`, `up -d`, `logs a b`, `--tail`, `-t`, `top`,
`logs -f` ended by Ctrl-C; tasks in the critical chain and the report; RESTARTS of a dependent;
`events` and `report` of a stopped stack; the live view's message without Textual.

One stack is shared by the module's tests (started without `-p`, stopped by the last test or
the fixture); its processes carry a mark of their own, checked gone at the end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackfixtures._config.choose import choose

from .cli_helpers import STACK, Output, run_stack
from .conftest import PY, RUN_MARK, module_stack, write_project

SHOP = """
[services.db]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }

[services.seed]                       # a task: the api waits for it, it waits for db
command = ["{PY}", "-c", "import time; time.sleep(0.6); print('seeded')"]
depends_on = ["db"]
task = true

[services.cache]
command = ["{PY}", "{APP}", "--port", "${port}"]
ready = { tcp = "${port}" }

[services.vault]                      # secrets on its command line, for `top`
command = ["{PY}", "-c", "import time; time.sleep(600)", "--api-token", "tok-s3cr3t-1",
           "postgresql://u:pw-s3cr3t-2@127.0.0.1/db", "SECRET_KEY=k-s3cr3t-3"]

[services.api]
command = ["{PY}", "{APP}", "--port", "${port}"]
depends_on = ["seed", "cache"]
ready = { http = "http://127.0.0.1:${port}/health" }
"""

MODULE_MARK = "I22_WORDS_STACK"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project with one profile (dev), up by `stack up -d` without -p."""
    root = tmp_path_factory.mktemp("shop")
    with module_stack(root, MODULE_MARK, "-d", profile=SHOP) as up:
        assert "is up" in up
        yield root


def words(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_stack(list(args), root)


# ------------------------------------------------------------- the profile you meant


def ini_project(root: Path, files: dict[str, str], profiles: tuple[str, ...]) -> Path:
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    for name in profiles:
        (root / "profiles" / f"{name}.toml").write_text("[services.x]\ncommand = ['true']\n")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def name(root: Path, given: str | None = None, env: dict[str, str] | None = None) -> str | None:
    found = choose(root, given, environ=env or {}, start=root)
    return found.profile if found is not None else None


def test_the_profile_is_chosen_in_order(tmp_path: Path) -> None:
    pyproject = '[tool.pytest.ini_options]\nstack_profile = "ci"\n'
    root = ini_project(tmp_path, {"pyproject.toml": pyproject}, ("dev", "ci"))
    found = choose(root, None, environ={}, start=root)
    assert found is not None and found.profile == "ci" and "pyproject.toml" in found.why
    assert name(root, env={"STACK_PROFILE": "dev"}) == "dev"
    assert name(root, "x", env={"STACK_PROFILE": "dev"}) == "x"
    # pytest.ini is pytest's first choice, even beside pyproject.toml's table
    (root / "pytest.ini").write_text("[pytest]\nstack_profile = dev\n")
    assert name(root) == "dev"
    # a pytest.ini without it: pytest reads no other file, so nothing is chosen by it
    (root / "pytest.ini").write_text("[pytest]\naddopts = -q\n")
    assert name(root) is None
    (root / "pytest.ini").unlink()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no pytest table
    (root / "setup.cfg").write_text("[tool:pytest]\nstack_profile = dev\n")
    assert name(root) == "dev"
    (root / "setup.cfg").unlink()
    (root / "tox.ini").write_text("[tox]\n[pytest]\nstack_profile = ci\n")
    assert name(root) == "ci"
    (root / "tox.ini").unlink()
    assert name(root) is None  # two profiles: no obvious one
    (root / "profiles" / "ci.toml").unlink()
    only = choose(root, None, environ={}, start=root)
    assert only is not None and only.profile == "dev" and not only.explicit


@pytest.mark.slow
def test_commands_read_pytests_stack_profile_and_offer_did_you_mean(tmp_path: Path) -> None:
    pyproject = "[project]\nname = 'x'\n[tool.pytest.ini_options]\nstack_profile = 'ci'\n"
    root = ini_project(tmp_path, {"pyproject.toml": pyproject}, ("dev", "ci"))
    result = words(root, "validate")
    assert result.returncode == 0, result.stderr
    assert "profiles/ci.toml" in result.stdout
    wrong = words(root, "up", "-p", "Dev")
    assert wrong.returncode == 2
    assert "did you mean 'dev'?" in wrong.stderr
    assert not (root / ".stack").exists()  # nothing was started


@pytest.mark.slow
def test_pytest_takes_the_only_profile_as_the_commands_do(pytester: pytest.Pytester) -> None:
    write_project(pytester.path, SHOP)
    pytester.makepyfile(test_only="def test_db(db, api):\n    assert db.port and api.port\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.slow
def test_run_and_clean_mean_the_only_profile(tmp_path: Path) -> None:
    write_project(tmp_path, "[services.x]\ncommand = ['true']\ntask = true\n")
    ran = words(tmp_path, "run", "--exit-code-from", "x")  # (no -p: the only profile)
    assert ran.returncode == 0, ran.stderr
    assert "[stack] profile dev (the only profile in" in ran.stderr
    result = words(tmp_path, "clean")
    assert result.returncode == 0, result.stderr
    assert "removed" in result.stdout and not (tmp_path / ".stack" / "dev").exists()


@pytest.mark.slow
def test_unknown_command_gets_did_you_mean(tmp_path: Path) -> None:
    result = words(tmp_path, "stauts")
    assert result.returncode == 2
    assert "no such command 'stauts'; did you mean 'status'?" in result.stderr


# ------------------------------------------------------------- Compose's words


@pytest.mark.slow
def test_ps_is_status(shop: Path) -> None:
    result = words(shop, "ps", "--json")
    assert result.returncode == 0, result.stderr
    states = {s["name"]: s["state"] for s in json.loads(result.stdout)["services"]}
    assert states == {
        "db": "ready",
        "seed": "completed",
        "cache": "ready",
        "vault": "ready",
        "api": "ready",
    }


@pytest.mark.slow
def test_logs_of_several_services_with_tail_and_timestamps(shop: Path) -> None:
    result = words(shop, "logs", "db", "cache", "--tail", "1", "-t")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == ["cache", "db"]  # one line each
    stamp = re.compile(r"^\S+\s+\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
    assert all(stamp.match(line) for line in lines), lines
    everything = words(shop, "logs", "seed", "--tail", "all")
    assert everything.returncode == 0 and "seeded" in everything.stdout


@pytest.mark.slow
def test_top_lists_each_services_processes(shop: Path) -> None:
    result = words(shop, "top", "db", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["processes"]
    status = json.loads(words(shop, "status", "--json").stdout)["services"]
    db_pid = next(s["pid"] for s in status if s["name"] == "db")
    assert [r["pid"] for r in rows] == [db_pid]
    assert rows[0]["service"] == "db" and "http_app.py" in rows[0]["command"]
    table = words(shop, "top")
    assert table.returncode == 0 and "COMMAND" in table.stdout and "api" in table.stdout
    vault = json.loads(words(shop, "top", "vault", "--json").stdout)["processes"]
    assert "--api-token ***" in vault[0]["command"], vault  # (printed in the clear before)
    assert "s3cr3t" not in table.stdout + json.dumps(vault)


@pytest.mark.slow
def test_logs_follow_ends_quietly_on_ctrl_c(shop: Path) -> None:
    proc = subprocess.Popen(
        [STACK, "logs", "-f", "api"],
        cwd=shop,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(proc)
    try:
        out.wait_for("api")
        proc.send_signal(signal.SIGINT)
        assert out.finish(timeout=30) == 0, out.output
    finally:
        out.kill()
    assert "Aborted" not in out.output


@pytest.mark.slow
def test_a_dependent_restarted_with_its_dependency_counts_a_restart(shop: Path) -> None:
    assert words(shop, "restart", "cache").returncode == 0
    status = json.loads(words(shop, "status", "--json").stdout)["services"]
    restarts = {s["name"]: s["restarts"] for s in status}
    assert restarts["cache"] == 1 and restarts["api"] == 1, status
    assert restarts["db"] == 0
    # an edited definition, brought in line by `up`, restarts api: one more
    with (shop / "profiles" / "dev.toml").open("a") as profile:
        profile.write('env = { EDITED = "1" }\n')  # (api's table comes last)
    again = words(shop, "up")
    assert again.returncode == 0 and "restarted: api" in again.stdout, again.stdout
    status = json.loads(words(shop, "status", "--json").stdout)["services"]
    assert {s["name"]: s["restarts"] for s in status}["api"] == 2, status


@pytest.mark.slow
def test_the_only_running_stack_is_meant_when_no_profile_is_obvious(shop: Path) -> None:
    other = shop / "profiles" / "other.toml"
    other.write_text("[services.x]\ncommand = ['true']\ntask = true\n")
    try:
        again = words(shop, "up")
        assert again.returncode == 0, again.stderr
        assert "already up" in again.stdout
        assert not (shop / ".stack" / "other").exists()
    finally:
        other.unlink()


@pytest.mark.slow
def test_the_critical_chain_and_the_report_table_have_tasks(shop: Path) -> None:
    """api waited for the task seed, which waited for db (not for cache, ready sooner)."""
    report = words(shop, "report", "-o", "-")
    assert report.returncode == 0, report.stderr
    chain = re.search(r'<span class="chain">(.*?)</span>', report.stdout)
    assert chain is not None
    assert re.findall(r"(\w+) @", chain.group(1)) == ["api", "seed", "db"], chain.group(1)
    row = re.search(r"<tr><td>seed</td>(.*?)</tr>", report.stdout)
    assert row is not None
    first_start, _, starts = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))[:3]
    assert first_start.endswith(" s") and starts == "1", row.group(0)


@pytest.mark.slow
def test_events_and_report_read_the_last_run_of_a_stopped_stack(shop: Path) -> None:
    assert words(shop, "down").returncode == 0
    events = words(shop, "events", "--json")
    assert events.returncode == 0, events.stderr
    seen = [json.loads(line) for line in events.stdout.splitlines()]
    assert {"db", "seed", "cache", "api"} <= {e["service"] for e in seen}
    report = words(shop, "report", "-o", "-")
    assert report.returncode == 0, report.stderr
    assert "<html" in report.stdout and "seed" in report.stdout


# ------------------------------------------------------------- the live view


@pytest.mark.slow
def test_the_live_view_without_textual_says_only_that(shop: Path) -> None:
    """`stack attach` at a terminal, Textual not installed: one reason, not two."""
    again = run_stack(["up", "-p", "dev"], shop, env={RUN_MARK: os.environ[MODULE_MARK]})
    assert again.returncode == 0, again.stderr
    master, slave = os.openpty()
    code = "import sys; sys.modules['textual'] = None\nfrom stackfixtures.cli import main\nmain()"
    proc = subprocess.Popen(
        [PY, "-c", code, "attach"],
        cwd=shop,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(slave)
    said = b""
    try:
        proc.wait(timeout=60)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = said.decode(errors="replace")
    assert proc.returncode == 2, text
    assert "needs Textual" in text and "needs a terminal" not in text
