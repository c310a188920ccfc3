"""Fixed paths in shared /tmp are used only when they are ours alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stackfixtures.engine.private_dirs import private_dir
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
