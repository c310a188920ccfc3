"""`stack exec -- CMD` and `stack env`: any project's tests in one command, with the endpoints of
real servers in the environment and nothing left running afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from stackfixtures._control.endpoint import read

from .cli_helpers import STACK, run_stack
from .conftest import wait_until, write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

DATA = """
[services.postgres]
kind = "postgres"
source = "wheel"

[services.redis]
kind = "redis"

[services.nats]
kind = "nats"
"""

CLIENT = textwrap.dedent(
    """
    import asyncio, os, sys
    import nats, psycopg, redis

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                         user=os.environ["PGUSER"], dbname=os.environ["PGDATABASE"]) as conn:
        conn.execute("SELECT 1")
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.set("k", "v")
    assert r.get("k") == b"v"

    async def bus():
        nc = await nats.connect(os.environ["NATS_URL"])
        await nc.flush()
        await nc.close()

    asyncio.run(bus())
    print("clients ok", os.environ["POSTGRES_PORT"], flush=True)
    sys.exit(int(sys.argv[1]))
    """
)


def test_exec_runs_a_command_against_real_servers_and_returns_its_code(tmp_path: Path) -> None:
    write_project(tmp_path, DATA)
    (tmp_path / "client.py").write_text(CLIENT)
    for code in (0, 7):
        result = run_stack(
            ["exec", "-p", "dev", "--", sys.executable, "client.py", str(code)],
            tmp_path,
            timeout=180,
        )
        assert result.returncode == code, result.stdout + result.stderr
        assert "clients ok" in result.stdout
        assert "| " not in result.stdout  # the services' output went to their logs, not here
        assert read(tmp_path / ".stack" / "dev") is None  # the stack it started was stopped


def test_exec_attaches_to_a_running_stack_and_leaves_it_running(tmp_path: Path) -> None:
    write_project(tmp_path, "[services.redis]\nkind = 'redis'\n")
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        ep = read(tmp_path / ".stack" / "dev")
        assert ep is not None
        check = "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL']).ping()"
        result = run_stack(["exec", "-p", "dev", "--", sys.executable, "-c", check], tmp_path)
        assert result.returncode == 0, result.stderr
        assert psutil.pid_exists(ep.pid) and read(tmp_path / ".stack" / "dev") == ep
        env = run_stack(["env", "--format", "json"], tmp_path)
        variables = json.loads(env.stdout)
        assert variables["REDIS_URL"].startswith("redis://127.0.0.1:")
        assert variables["REDIS_PORT"] == variables["REDIS_URL"].split(":")[2].split("/")[0]
        sh = run_stack(["env"], tmp_path)
        assert f"export REDIS_URL={variables['REDIS_URL']}" in sh.stdout
        dotenv = run_stack(["env", "--format", "dotenv"], tmp_path)
        assert f"REDIS_URL={variables['REDIS_URL']}\n" in dotenv.stdout
    finally:
        assert run_stack(["down"], tmp_path).returncode == 0


def test_exec_bad_input(tmp_path: Path) -> None:
    write_project(tmp_path, "[services.redis]\nkind = 'redis'\n")
    missing = run_stack(["exec", "-p", "dev", "--", "no-such-command-here"], tmp_path)
    assert missing.returncode == 127 and "command not found" in missing.stderr
    assert not (tmp_path / ".stack").exists()  # found out before a stack was started for it
    unknown = run_stack(["exec", "-p", "dev", "-s", "ghost", "--", "true"], tmp_path)
    assert unknown.returncode == 2 and "unknown service 'ghost' (defined: redis)" in unknown.stderr
    usage = run_stack(["exec", "--help"], tmp_path).stdout
    assert "default: logs only" not in usage and "only to their log files" in usage


def test_env_with_two_services_of_one_kind_says_why_conventions_are_left_out(
    tmp_path: Path,
) -> None:
    write_project(
        tmp_path,
        """
[stack]
env = { CACHE_URLS = "${a.url},${b.url}" }

[services.a]
kind = "redis"

[services.b]
kind = "redis"
""",
    )
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        result = run_stack(["env", "--format", "json"], tmp_path)
        variables = json.loads(result.stdout)
        assert "REDIS_URL" not in variables
        assert variables["A_URL"] != variables["B_URL"]
        assert variables["CACHE_URLS"] == f"{variables['A_URL']},{variables['B_URL']}"
        assert "2 redis services (a, b)" in result.stderr
        unknown = run_stack(["env", "-s", "ghost"], tmp_path)
        assert unknown.returncode == 2 and "(defined: a, b)" in unknown.stderr
        status = json.loads(run_stack(["status", "--json"], tmp_path).stdout)
        rows = {r["name"]: r for r in status["services"]}
        assert rows["a"]["kind"] == "redis" and rows["a"]["handle"]["url"] == variables["A_URL"]
    finally:
        run_stack(["down"], tmp_path)


def test_passwords_are_masked_for_people_and_given_to_programs(tmp_path: Path) -> None:
    write_project(
        tmp_path, "[services.db]\nkind = 'postgres'\nsource = 'wheel'\npassword = 'hunter2'\n"
    )
    assert run_stack(["up", "-p", "dev"], tmp_path, timeout=120).returncode == 0
    try:
        table = run_stack(["status"], tmp_path)
        assert "hunter2" not in table.stdout and "postgresql://postgres:***@" in table.stdout
        variables = json.loads(run_stack(["env", "--format", "json"], tmp_path).stdout)
        assert variables["PGPASSWORD"] == "hunter2" and "hunter2" in variables["DATABASE_URL"]
        check = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL']).close()"
        assert run_stack(["exec", "--", sys.executable, "-c", check], tmp_path).returncode == 0
    finally:
        run_stack(["down"], tmp_path, timeout=120)


def test_clean_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "postgres" / "18-x").mkdir(parents=True)
    (cache / "postgres" / "18-x" / "PG_VERSION").write_text("18\n")
    write_project(tmp_path, "[services.cache]\nkind = 'redis'\n")
    result = run_stack(["clean", "--cache"], tmp_path, env={"STACKFIXTURES_CACHE": str(cache)})
    assert result.returncode == 0 and f"removed the cache {cache}" in result.stdout
    assert not cache.exists()


def test_a_handle_without_a_url_gets_no_url_variable(tmp_path: Path) -> None:
    """`endpoint` is the handle's text for people ("3 in api's process"), not an address:
    it shows in status, and gives no <NAME>_URL (host and port still do)."""
    write_project(tmp_path, "[stack]\nservices = ['group', 'plain']\n")
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import stackfixtures as sf

            @sf.service
            def group():
                yield sf.Handle(endpoint="3 in api's process")

            @sf.service
            def plain():
                yield sf.Handle(host="127.0.0.1", port=1)
            """
        )
    )
    result = run_stack(["exec", "-p", "dev", "--", sys.executable, "-c", PRINT_ENV], tmp_path)
    assert result.returncode == 0, result.stderr
    variables = json.loads(result.stdout)
    assert "GROUP_URL" not in variables and "PLAIN_URL" not in variables
    assert variables["PLAIN_HOST"] == "127.0.0.1" and variables["PLAIN_PORT"] == "1"


PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def test_exec_lists_every_mistake_of_a_profile(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "[services.a]\nkind = 'rediss'\n[services.b]\ncommand = ['true']\ndepends_onn = []\n",
    )
    result = run_stack(["exec", "-p", "dev", "--", "true"], tmp_path)
    assert result.returncode == 2
    assert "unknown kind 'rediss'" in result.stderr and "did you mean 'redis'" in result.stderr
    assert "services.b.depends_onn: unknown key" in result.stderr
    assert result.stderr.rstrip().endswith("error: 2 problems, listed above")
    assert not (tmp_path / ".stack").exists()  # nothing was started: nothing is left either


def test_a_service_that_fails_after_it_started_fails_exec_and_up_at_once(tmp_path: Path) -> None:
    """`job` has no probe: ready once spawned, then it exits while `slow` is still starting.
    exec and up do not wait for a stack that cannot come up: they stop it and say which
    service failed, with its output."""
    write_project(
        tmp_path,
        """
[services.cache]
kind = "redis"

[services.job]
command = ["sh", "-c", "echo boom; exit 3"]
depends_on = ["cache"]

[services.slow]
command = ["sh", "-c", "sleep 3; exec {PY} {APP} --port ${port}"]
ready = { http = "http://127.0.0.1:${port}/health" }
""",
    )
    try:
        for args in (["exec", "-p", "dev", "--", "true"], ["up", "-p", "dev"]):
            result = run_stack([*args, "--timeout", "120"] if args[0] == "up" else args, tmp_path)
            assert result.returncode == 3, result.stderr
            assert "service 'job' failed: process" in result.stderr
            assert "exited with code 3" in result.stderr and "boom" in result.stderr
            assert read(tmp_path / ".stack" / "dev") is None  # the launcher is gone
    finally:
        run_stack(["down", "-p", "dev"], tmp_path)  # if `up` got the stack up after all


def test_commands_find_the_virtualenv_of_stack_first(tmp_path: Path) -> None:
    """`.venv/bin/stack exec -- pytest` and `python` in a profile, with the venv not activated
    (PATH without its bin): both are the venv's, as under `uv run`."""
    own_bin = str(Path(sys.prefix) / "bin")
    write_project(
        tmp_path,
        """
[services.which]
command = ["sh", "-c", "command -v python > which.txt"]
task = true
""",
    )
    bare = {"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": ""}  # none activated
    result = run_stack(
        ["exec", "-p", "dev", "--", "sh", "-c", "command -v pytest"], tmp_path, env=bare
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{own_bin}/pytest"
    assert (tmp_path / "which.txt").read_text().strip() == f"{own_bin}/python"


def test_ctrl_c_while_up_waits_stops_what_it_started(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.cache]
kind = "redis"

[services.slow]
command = ["sh", "-c", "sleep 60"]
ready = { tcp = "${port}" }
depends_on = ["cache"]
""",
    )
    proc = subprocess.Popen(
        [STACK, "up", "-p", "dev"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground job: Ctrl-C goes to its group
    )
    try:
        wait_until(lambda: (tmp_path / ".stack" / "dev" / "logs" / "slow.log").exists())
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 130, err
        assert "interrupted: the stack was stopped" in err
        assert read(tmp_path / ".stack" / "dev") is None  # its launcher is gone
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_exec_says_when_it_starts_and_stops_a_stack(tmp_path: Path) -> None:
    """A few lines on stderr, so that the seconds a stack takes are not silent; stdout is the
    command's alone."""
    write_project(tmp_path, "[services.cache]\nkind = 'redis'\n")
    result = run_stack(["exec", "-p", "dev", "--", "sh", "-c", "echo only this"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "only this\n"
    lines = result.stderr.splitlines()
    where = tmp_path / ".stack" / "dev"
    assert lines[0] == f"[stack] starting the stack in {where} (its log: launcher.log there)"
    assert lines[1].startswith("[stack] up in ")
    assert lines[-1] == "[stack] stopped 1 service gracefully"
