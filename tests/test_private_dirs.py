"""Fixed paths in shared /tmp are used only when they are ours alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stackfixtures._engine.private_dirs import private_dir
from stackfixtures.errors import UnsafePath


def test_created_private(tmp_path: Path) -> None:
    path = private_dir(tmp_path / "mine")
    assert path.is_dir() and (path.stat().st_mode & 0o777) == 0o700
    assert private_dir(path) == path  # and accepted again


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "planted").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePath, match="not a plain directory"):
        private_dir(tmp_path / "planted")


def test_someone_elses_directory_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        shutil.chown(theirs, "nobody")
    else:
        theirs = Path("/")  # owned by root, never by a normal user
    with pytest.raises(UnsafePath, match="belongs to uid"):
        private_dir(theirs)


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePath, match="writable by others"):
        private_dir(shared)


@pytest.mark.slow
def test_a_long_tmpdir_still_gives_a_control_socket_that_fits(tmp_path: Path) -> None:
    """A state dir and a $TMPDIR both too long for a socket's 107 bytes (seen: the chaos bench
    under pytest): the socket goes to this user's private dir in /tmp, and the stack answers."""
    from .cli_helpers import run_stack
    from .conftest import DB_WEB, write_project

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    tmpdir = deep / "tmp"
    tmpdir.mkdir(parents=True)
    write_project(deep, DB_WEB)
    env = {"TMPDIR": str(tmpdir)}
    up = run_stack(["up", "-p", "dev"], deep, timeout=120, env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = run_stack(["status", "-p", "dev"], deep, env=env)
        assert status.returncode == 0 and "ready" in status.stdout, status.stdout + status.stderr
    finally:
        down = run_stack(["down", "-p", "dev"], deep, timeout=120, env=env)
    assert down.returncode == 0, down.stdout + down.stderr
