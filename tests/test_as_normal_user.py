"""The engine and the data kinds as a normal user too: CI runs as root, developers do not.

As root, this builds a throwaway virtualenv from the system's Python 3.11 (the one running the
suite may live under root's home, which other users cannot read), copies the tests, and runs
them as `nobody` in a real pytest subprocess: PostgreSQL then runs directly as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/test_engine.py",
    "tests/test_kind_postgres.py",
    "tests/test_kind_postgres_memory.py",
    "tests/test_kind_redis.py",
    "tests/test_kind_nats.py",
    "tests/test_trust_delete.py::test_postgres_socket_home_of_a_long_state_dir_is_removed",
]
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


@pytest.mark.skipif(os.geteuid() != 0, reason="already a normal user: this whole run is that case")
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system python3.11 that nobody can run")
@pytest.mark.timeout(900)
def test_engine_and_data_kinds_pass_as_a_normal_user() -> None:
    user = "nobody"
    home = Path(tempfile.mkdtemp(prefix="stackfixtures-user-"))
    try:
        project = home / "project"
        project.mkdir()
        for name in ("pyproject.toml", "conftest.py"):
            shutil.copy(ROOT / name, project / name)
        for name in ("tests", "profiles", "backend"):
            shutil.copytree(
                ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        venv = home / "venv"
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                f"{ROOT}[services]",
                "pytest",
                "pytest-asyncio",
                "pytest-timeout",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
        subprocess.run(["chown", "-R", f"{user}:", str(home)], check=True)
        home.chmod(0o755)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "STACKFIXTURES_", "VIRTUAL_ENV"))
        }
        env.update(
            HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), PATH=f"{venv / 'bin'}:/usr/bin:/bin"
        )
        result = subprocess.run(
            [
                RUNUSER,
                "-u",
                user,
                "--",
                str(venv / "bin" / "python"),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--basetemp",
                str(home / "tmp"),
                *TESTS,
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert " passed" in result.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)
