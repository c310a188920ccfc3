"""Issue 21, item 8: the settings a PostgreSQL data dir was made with are part of its identity.
A changed `user` or `password` is refused at once with what to run, never a silent mismatch
(an old password that still connects) nor a wait for the start timeout; a changed `dbname`
is applied (the database is created in the existing cluster)."""

from __future__ import annotations

import asyncio
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from stackfixtures.errors import StaleDataDir
from stackfixtures.kinds.postgres.cluster import unprivileged_user

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def profile(**keys: str) -> str:
    lines = ["[services.db]", 'kind = "postgres"', 'source = "wheel"', "start_timeout = 60"]
    return "\n".join([*lines, *(f'{k} = "{v}"' for k, v in keys.items())]) + "\n"


async def first_run(root: Path, make_stack: Any, **keys: str) -> Any:
    stack = await make_stack(root, profile(**keys))
    db = (await stack.start(["db"]))["db"]
    with psycopg.connect(db.dsn) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    await stack.close()
    return db


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        ({}, {"password": "n3w-secret"}, "made without a password (now with one)"),
        ({"password": "old-secret"}, {"password": "n3w-secret"}, "made with another password"),
        ({"password": "old-secret"}, {}, "made with a password (now without)"),
        ({"user": "app"}, {"user": "other"}, "made with user 'app' (now 'other')"),
    ],
)
async def test_a_changed_identity_is_refused_at_once_with_what_to_run(
    tmp_path: Path, make_stack: Any, before: dict[str, str], after: dict[str, str], said: str
) -> None:
    await first_run(tmp_path, make_stack, **before)
    again = await make_stack(tmp_path, profile(**after))
    mark = again.units["db"].log.mark
    with pytest.raises(StaleDataDir) as e:
        await again.start(["db"])
    text = str(e.value)
    assert f"service 'db': its data dir was {said}" in text, text
    assert "run `stack clean --state-dir" in text and "to rebuild it" in text, text
    said = "\n".join(again.units["db"].log.since(mark))
    assert "starting PostgreSQL" not in said, said  # refused before the server was started
    assert "n3w-secret" not in text
    assert not again.units["db"].processes


async def test_the_identity_record_is_private_and_holds_no_password(
    tmp_path: Path, make_stack: Any
) -> None:
    db = await first_run(tmp_path, make_stack, password="old-secret")
    record = Path(db.data_dir).with_name("identity.json")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert "old-secret" not in record.read_text()


async def test_a_changed_dbname_is_created_in_the_existing_cluster(
    tmp_path: Path, make_stack: Any
) -> None:
    await first_run(tmp_path, make_stack, password="old-secret", dbname="one")
    again = await make_stack(tmp_path, profile(password="old-secret", dbname="two"))
    db = (await again.start(["db"]))["db"]
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("two",)
    one = db.dsn.rsplit("/", 1)[0] + "/one"
    with psycopg.connect(one) as conn:  # the data made before is still there
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


async def test_the_same_identity_reuses_the_data_dir(tmp_path: Path, make_stack: Any) -> None:
    await first_run(tmp_path, make_stack, user="app", password="old-secret")
    again = await make_stack(tmp_path, profile(user="app", password="old-secret"))
    db = (await again.start(["db"]))["db"]
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


@pytest.mark.parametrize("memory", [False, True])
async def test_a_state_dir_made_anew_at_the_same_path_starts_with_no_data(
    tmp_path: Path, make_stack: Any, memory: bool
) -> None:
    """A state dir removed without `stack clean` (pytest deleting its basetemp, `rm -rf
    .stack`) and made again at the same path: its cluster starts empty. The data home outside
    it (as root, or in memory) named that path, and the new stack took the old data over."""
    keys = {"memory": "true"} if memory else {}
    text = profile().replace('"true"', "true") + "".join(f"{k} = {v}\n" for k, v in keys.items())
    first = await make_stack(tmp_path, text)
    db = (await first.start(["db"]))["db"]
    with psycopg.connect(db.dsn) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    await first.close()
    shutil.rmtree(tmp_path / "state")
    again = await make_stack(tmp_path, text)
    db = (await again.start(["db"]))["db"]
    with psycopg.connect(db.dsn) as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
    await again.close()


async def test_a_stale_postmaster_pid_naming_another_process_does_not_block_the_start(
    tmp_path: Path, make_stack: Any
) -> None:
    """A postmaster killed with SIGKILL (by its watchdog, its launcher gone) leaves
    postmaster.pid. At the next start its pid may be a zombie not reaped yet, or reused by
    another process of PostgreSQL's user (a neighbour's backend): PostgreSQL then refused to
    start ("lock file "postmaster.pid" already exists"; found by the chaos bench). We hold the
    state dir's lock, so no postmaster of ours runs there: the file is stale."""
    db = await first_run(tmp_path, make_stack)
    pgdata = Path(db.data_dir)
    squatter = subprocess.Popen(["sleep", "60"], user=unprivileged_user(None))
    try:
        (pgdata / "postmaster.pid").write_text(f"{squatter.pid}\n{pgdata}\n")
        again = await make_stack(tmp_path, profile())
        db = (await again.start(["db"]))["db"]
        with psycopg.connect(db.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        assert squatter.poll() is None  # not ours: untouched
    finally:
        squatter.kill()
        squatter.wait()


async def test_a_stale_socket_lock_of_a_zombie_postmaster_does_not_block_the_start(
    tmp_path: Path, make_stack: Any
) -> None:
    """The socket's lock file (`.s.PGSQL.PORT.lock`) names the postmaster too: killed with
    SIGKILL by its watchdog and not yet reaped by an init that reaps slowly, a zombie made the
    next start fail ("lock file ... already exists", found by the chaos bench in CI)."""
    db = await first_run(tmp_path, make_stack)
    pgdata = Path(db.data_dir)
    zombie = subprocess.Popen(["true"], user=unprivileged_user(None))
    try:
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:  # (not waited for)
            await asyncio.sleep(0.01)
        lock = Path(db.socket_dir) / f".s.PGSQL.{db.port}.lock"
        lock.write_text(f"{zombie.pid}\n{pgdata}\n")
        again = await make_stack(tmp_path, profile())
        db = (await again.start(["db"]))["db"]
        with psycopg.connect(db.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        await again.close()
    finally:
        zombie.wait()
