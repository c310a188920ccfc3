"""`memory = true`: a postgres service's data dir on a tmpfs (a clone per test then costs
memory, not the filesystem's syncs), in a private home of this state dir that `stack clean`
removes, and nothing else; a clear error where no tmpfs is at hand."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures.kinds.postgres.memory_root import MEMORY_ROOT_VARIABLE

from .cli_helpers import run_stack
from .conftest import write_project

SERVER = """
[services.db]
kind = "postgres"
source = "wheel"
memory = true
settings = { fsync = false }
template = { schema_file = "schema.sql" }
"""

pytestmark = [
    pytest.mark.slow,  # starts processes (tests/spawns.py)
    pytest.mark.skipif(
        not Path("/dev/shm").is_dir(), reason="no /dev/shm here: memory = true says so (tested)"
    ),
]


@pytest.fixture
def memory_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh root on the tmpfs for this test's homes (STACKFIXTURES_PGMEMORY_ROOT)."""
    where = Path(tempfile.mkdtemp(prefix="stackfixtures-test-", dir="/dev/shm"))
    root = where / "homes"
    monkeypatch.setenv(MEMORY_ROOT_VARIABLE, str(root))
    where.chmod(0o711)  # the server's OS user (as root) passes through
    try:
        yield root
    finally:
        shutil.rmtree(where)


async def test_data_in_memory_serves_per_test_databases_and_clean_removes_only_its_home(
    tmp_path: Path, make_stack: Any, memory_root: Path
) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    tmp_path.chmod(0o755)  # as root, the server's OS user reads schema.sql
    stack = await make_stack(
        tmp_path, SERVER + '[services.db_db]\nkind = "postgres_db"\ninject = { postgres = "db" }\n'
    )
    handles = await stack.start(["db", "db_db"])
    server, first = handles["db"], handles["db_db"]
    link = tmp_path / "state" / "services" / "db" / "data" / "pgdata"
    (home,) = memory_root.iterdir()
    assert Path(server.data_dir) == home / "pgdata" == link.resolve()
    assert (home / "pgdata" / "PG_VERSION").is_file()
    assert (home / "owner").read_text() == str(tmp_path / "state" / "services" / "db")
    assert oct(memory_root.stat().st_mode & 0o777) == ("0o711" if os.geteuid() == 0 else "0o700")
    with psycopg.connect(first.dsn) as conn:  # a clone of the template, in memory
        conn.execute("INSERT INTO items VALUES (1)")
    await stack.stop(["db_db"])
    second = (await stack.start(["db_db"]))["db_db"]
    assert second.dbname != first.dbname
    with psycopg.connect(second.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    await stack.close()
    # Another state dir's home beside it (its owner exists): not this stack's, kept.
    other = memory_root / "0123456789abcdef"
    other.mkdir()
    (other / "owner").write_text(str(tmp_path))
    (other / "keep.txt").write_text("precious\n")
    write_project(tmp_path, SERVER)
    result = run_stack(["clean", "--state-dir", str(tmp_path / "state")], tmp_path, timeout=120)
    assert result.returncode == 0 and "freed" in result.stdout, result.stdout + result.stderr
    assert sorted(memory_root.iterdir()) == [other] and not (tmp_path / "state").exists()
    assert (other / "keep.txt").read_text() == "precious\n"


def test_memory_without_a_tmpfs_says_so(tmp_path: Path) -> None:
    disk = Path(tempfile.mkdtemp(prefix="stackfixtures-test-", dir="/var/tmp"))
    try:
        write_project(tmp_path, SERVER.replace("template = ", "# "))
        env = {MEMORY_ROOT_VARIABLE: str(disk / "homes")}
        result = run_stack(["up", "-p", "dev"], tmp_path, timeout=120, env=env)
        run_stack(["down", "-p", "dev"], tmp_path, timeout=120, env=env)
        out = result.stdout + result.stderr
        assert result.returncode != 0, out
        assert f"{disk / 'homes'} is on " in out and "not a tmpfs" in out, out
        assert "Traceback" not in out
        assert not (disk / "homes").exists()
    finally:
        shutil.rmtree(disk)
