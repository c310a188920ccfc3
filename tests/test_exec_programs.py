"""Which programs a stack runs, and which variables they get: the activated virtualenv before
stack's own, a Python program from neither named on stderr, `stack validate` finding a program
that is not there, and a profile switching the conventional variables off or unsetting names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_helpers import STACK, run_stack
from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

OWN_BIN = str(Path(sys.prefix) / "bin")


def _bin(where: Path, name: str, text: str) -> Path:
    """An executable `name` in `where` holding `text`."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def _stack(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`stack ARGS` with the caller's environment but no activated virtualenv, plus `env`."""
    base = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(
        [STACK, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**base, **env}
    )


PYENV_SHIM = """#!/usr/bin/env bash
set -e
program="${0##*/}"
export PYENV_ROOT="/nonexistent/.pyenv"
exec "/nonexistent/.pyenv/libexec/pyenv" exec "$program" "$@"
"""
"""What pyenv writes as `~/.pyenv/shims/pytest` (it runs the pytest of pyenv's Python)."""


def test_the_activated_virtualenv_comes_before_the_one_stack_runs_from(tmp_path: Path) -> None:
    """A project venv activated, `stack` installed in another: exec's command and a service's
    command find the project's `pytest` first, and stack's own after it (`stack`'s python)."""
    project_venv = tmp_path / "project-venv"
    _bin(project_venv / "bin", "pytest", "#!/bin/sh\necho project pytest\n")
    write_project(
        tmp_path,
        """
[services.which]
command = ["sh", "-c", "command -v pytest > which.txt; command -v python >> which.txt"]
task = true
""",
    )
    activated = f"{project_venv / 'bin'}:/usr/bin:/bin"
    result = _stack(
        ["exec", "-p", "dev", "--", "sh", "-c", "command -v pytest; command -v python"],
        tmp_path,
        PATH=activated,
        VIRTUAL_ENV=str(project_venv),
    )
    assert result.returncode == 0, result.stderr
    expected = [f"{project_venv}/bin/pytest", f"{OWN_BIN}/python"]
    assert result.stdout.split() == expected
    assert (tmp_path / "which.txt").read_text().split() == expected


def test_exec_names_a_python_program_from_neither_virtualenv(tmp_path: Path) -> None:
    """A global Python tool (installed for the system's Python: another Python's packages,
    without the project's nor the plugin) is named on stderr; a shell script is not (no Python
    program), nor one run by `env python3` (the virtualenv's python), nor stack's own python."""
    elsewhere = tmp_path / "global-bin"
    tool = _bin(elsewhere, "globaltool", "#!/usr/bin/python3\nprint('global tool')\n")
    _bin(elsewhere, "shelltool", "#!/bin/sh\necho shell tool\n")
    _bin(elsewhere, "envtool", "#!/usr/bin/env python3\nprint('env tool')\n")
    shim = _bin(tmp_path / ".pyenv" / "shims", "shimtool", PYENV_SHIM)
    write_project(tmp_path, "[services.noop]\ncommand = ['sleep', '60']\n")
    path = f"{elsewhere}:{shim.parent}:/usr/bin:/bin"
    assert _stack(["up", "-p", "dev"], tmp_path).returncode == 0  # one stack for every exec
    try:
        result = _stack(["exec", "--", "globaltool"], tmp_path, PATH=path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "global tool\n"
        assert f"[stack] note: globaltool is {tool}, a Python program from neither" in (
            result.stderr
        )
        result = _stack(["exec", "--", "shimtool"], tmp_path, PATH=path)
        assert f"[stack] note: shimtool is {shim}, a Python program from neither" in result.stderr
        for quiet in (["shelltool"], ["envtool"], ["python", "-c", "pass"]):
            result = _stack(["exec", "--", *quiet], tmp_path, PATH=path)
            assert result.returncode == 0, result.stderr
            assert "[stack] note:" not in result.stderr
    finally:
        _stack(["down"], tmp_path)


def test_validate_finds_a_program_that_is_not_on_path(tmp_path: Path) -> None:
    """`psqlx` for `psql`: validate says so with a did-you-mean, and `up` fails before any
    service started (before: it failed only at up, after the database had started)."""
    tools = tmp_path / "tools"
    _bin(tools, "migrate-db", "#!/bin/sh\nexit 0\n")
    write_project(
        tmp_path,
        """
[services.cache]
kind = "redis"

[services.migrate]
command = ["migrate-bd", "--all"]
task = true
depends_on = ["cache"]

[services.web]
command = ["sleep", "60"]
ready = { exec = ["chek-ready"] }
depends_on = ["migrate"]
""",
    )
    path = f"{tools}:/usr/bin:/bin"
    result = _stack(["validate", "-p", "dev"], tmp_path, PATH=path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "services.migrate.command" in result.stderr
    assert "'migrate-bd' is not a program on PATH; did you mean 'migrate-db'?" in result.stderr
    assert "services.web.ready.exec" in result.stderr and "'chek-ready'" in result.stderr
    up = _stack(["up", "-p", "dev"], tmp_path, PATH=path)  # the launcher's check
    assert up.returncode == 2 and "'migrate-bd' is not a program on PATH" in up.stderr
    assert not (tmp_path / ".stack" / "dev" / "logs" / "cache.log").exists()  # nothing started


def test_a_replaced_service_needs_no_program(tmp_path: Path) -> None:
    """`--replace api=URL`: api runs nothing here, so its program need not be installed."""
    write_project(
        tmp_path,
        '[services.api]\ncommand = ["api-server-not-here"]\n'
        '[services.client]\ncommand = ["sleep", "60"]\ndepends_on = ["api"]\n',
    )
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().split(" port ")[1].split()[0]
        replace = f"api=http://127.0.0.1:{port}/"
        result = _stack(["exec", "-p", "dev", "--replace", replace, "--", "true"], tmp_path)
        assert result.returncode == 0, result.stderr
        result = _stack(["exec", "-p", "dev", "--", "true"], tmp_path)
        assert result.returncode == 2 and "'api-server-not-here' is not a program" in (
            result.stderr
        )
    finally:
        server.terminate()
        server.wait(10)


def test_a_profile_switches_conventional_variables_off_and_unsets_names(tmp_path: Path) -> None:
    """psycopg's own tests fail when PGHOST is set: `conventional_env = false` leaves out the
    kinds' variables (REDIS_URL, ...) and `unset_env` removes a name even from what exec's
    command inherits; `stack env` says the same (`unset` lines for sh)."""
    write_project(
        tmp_path,
        """
[stack]
conventional_env = false
unset_env = ["PGHOST", "PGPORT"]

[services.cache]
kind = "redis"
""",
    )
    assert run_stack(["up", "-p", "dev"], tmp_path).returncode == 0
    try:
        show = "echo ${REDIS_URL-none} ${PGHOST-none} ${PGPORT-none} ${CACHE_URL}"
        result = run_stack(
            ["exec", "--", "sh", "-c", show],
            tmp_path,
            env={"PGHOST": "/somewhere/else", "PGPORT": "5433"},
        )
        assert result.returncode == 0, result.stderr
        redis_url, pghost, pgport, cache_url = result.stdout.split()
        assert (redis_url, pghost, pgport) == ("none", "none", "none")
        assert cache_url.startswith("redis://")
        as_json = run_stack(["env", "--format", "json"], tmp_path)
        variables = json.loads(as_json.stdout)
        assert "REDIS_URL" not in variables and variables["CACHE_URL"] == cache_url
        assert "unset_env (PGHOST, PGPORT): json cannot unset a name" in as_json.stderr
        sh = run_stack(["env"], tmp_path).stdout.splitlines()
        assert "unset PGHOST" in sh and "unset PGPORT" in sh
    finally:
        run_stack(["down"], tmp_path)


def test_unset_env_names_are_checked(tmp_path: Path) -> None:
    write_project(tmp_path, '[stack]\nunset_env = ["NOT A NAME"]\n[services.c]\nkind = "redis"\n')
    write_project(
        tmp_path,
        '[stack]\nenv = { PGHOST = "${c.host}" }\nunset_env = ["PGHOST"]\n'
        '[services.c]\nkind = "redis"\n',
        "ci",
    )
    result = run_stack(["validate", "-p", "dev"], tmp_path)
    assert result.returncode == 2 and "'NOT A NAME' is not a variable name" in result.stderr
    result = run_stack(["validate", "-p", "ci"], tmp_path)
    assert result.returncode == 2 and "PGHOST: both in env and in unset_env" in result.stderr
