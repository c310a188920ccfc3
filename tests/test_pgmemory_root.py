"""`memory = true` without STACKFIXTURES_PGMEMORY_ROOT: the root on the tmpfs is this user's
alone and never at a name another local user could take first (a planted
/dev/shm/stackfixtures-postgres-<uid> used to block memory = true for good: /dev/shm is sticky).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackfixtures.kinds.postgres import placement
from stackfixtures.kinds.postgres.memory_root import MEMORY_ROOT_VARIABLE, RECORD

from .cli_helpers import run_stack

SHM = Path("/dev/shm")
SHARED = os.geteuid() == 0  # as root the server runs as another OS user, who passes through
MODE = 0o711 if SHARED else 0o700

pytestmark = [
    pytest.mark.slow,  # starts processes (tests/spawns.py)
    pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm here: memory = true says so (tested)"),
]


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh per-user private dir (user_tmp) for the record, no variable pointing elsewhere;
    the roots made on /dev/shm removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="sfshm-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    monkeypatch.delenv(MEMORY_ROOT_VARIABLE, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    before = set(SHM.iterdir())
    try:
        yield base / f"stackfixtures-{os.getuid()}"
    finally:
        for made in set(SHM.iterdir()) - before:
            if made.name.startswith("stackfixtures-postgres-") and not made.is_symlink():
                shutil.rmtree(made)
        shutil.rmtree(base)


async def test_a_root_planted_by_another_user_does_not_block_memory(
    tmp_path: Path, make_stack: Any, private_tmp: Path
) -> None:
    planted = SHM / f"stackfixtures-postgres-{os.getuid()}"
    ours = not planted.exists()
    if ours:
        planted.mkdir(mode=0o700)
    owner = planted.lstat()
    os.chown(planted, 65534, 65534, follow_symlinks=False)  # another local user's
    try:
        tmp_path.chmod(0o755)
        stack = await make_stack(
            tmp_path, '[services.db]\nkind = "postgres"\nsource = "wheel"\nmemory = true\n'
        )
        server = (await stack.start(["db"]))["db"]
        root = Path((private_tmp / RECORD).read_text())
        assert root.parent == SHM and root != planted
        assert root.stat().st_uid == os.geteuid() and root.stat().st_mode & 0o777 == MODE
        home = Path(server.data_dir).parent
        assert home.parent == root
        await stack.close()
        clean = run_stack(["clean", "--state-dir", str(tmp_path / "state")], tmp_path, timeout=120)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert not home.exists() and root.is_dir()  # the link followed to its home, only
    finally:
        if ours:
            planted.rmdir()
        else:
            os.chown(planted, owner.st_uid, owner.st_gid, follow_symlinks=False)


def test_the_recorded_root_is_used_again_while_it_is_ours(private_tmp: Path) -> None:
    root = placement.memory_root(SHARED)
    assert root.parent == SHM and root.name.startswith("stackfixtures-postgres-")
    assert placement.memory_root(SHARED) == root
    assert (private_tmp / RECORD).stat().st_mode & 0o777 == 0o600
    # Replaced by a symlink (to a directory that would pass): not followed, a new one made.
    decoy = Path(tempfile.mkdtemp(prefix="stackfixtures-postgres-", dir=SHM))
    root.rmdir()
    root.symlink_to(decoy)
    try:
        fresh = placement.memory_root(SHARED)
        assert fresh not in (root, decoy) and fresh.parent == SHM and not fresh.is_symlink()
        assert root.is_symlink() and list(decoy.iterdir()) == []
        # Now another user's: not used either.
        os.chown(fresh, 65534, 65534) if os.geteuid() == 0 else fresh.chmod(0o777)
        again = placement.memory_root(SHARED)
        assert again not in (fresh, root) and again.stat().st_uid == os.geteuid()
    finally:
        root.unlink()
        decoy.rmdir()


def test_a_private_runtime_dir_on_a_tmpfs_is_preferred(
    monkeypatch: pytest.MonkeyPatch, private_tmp: Path
) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="sfrun-", dir=SHM))  # 0700, ours, a tmpfs
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    try:
        assert placement.memory_root(False) == runtime / "stackfixtures-postgres"
        # The server's OS user could not enter it: as root (shared) the root is elsewhere.
        assert placement.memory_root(True).parent == SHM
        runtime.chmod(0o755)  # not a private runtime dir: not used
        assert placement.memory_root(False).parent == SHM
    finally:
        shutil.rmtree(runtime)
