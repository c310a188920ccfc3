"""A template build replaces and drops only databases it made: the template (marked by its
comment), its `_next` and its `_old`. A database of that name made by someone else (the
application's own, a user's) is refused, named, and left as it is; names that can only be
someone else's (`dbname`, `postgres`, `template0`/`template1`) are refused in the profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures import _project as projects
from stackfixtures.errors import ProfileError, StartError

from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

SERVER = """
[services.db]
kind = "postgres"
source = "wheel"
template = {{ schema_file = "schema.sql", name = "{name}" }}

[services.db_db]
kind = "postgres_db"
inject = {{ postgres = "db" }}
"""


@pytest.mark.parametrize("name", ["postgres", "template1", "template0"])
def test_a_template_named_as_a_database_not_its_own_is_refused(tmp_path: Path, name: str) -> None:
    write_project(tmp_path, SERVER.format(name=name))
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)
    assert "services.db.template.name" in str(e.value)
    assert "not a database of its own" in str(e.value)


def test_a_template_named_as_the_servers_dbname_is_refused(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        SERVER.format(name="shop").replace('source = "wheel"', 'source = "wheel"\ndbname = "shop"'),
    )
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    with pytest.raises(ProfileError) as e:
        projects.load("dev", root=tmp_path)
    assert "services.db.template" in str(e.value) and "'shop'" in str(e.value)


@pytest.mark.parametrize("taken", ["fixtures", "fixtures_old", "fixtures_next"])
async def test_a_database_of_the_templates_names_made_by_someone_else_is_kept(
    tmp_path: Path, make_stack: Any, taken: str
) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    profile = SERVER.format(name="fixtures")
    first = await make_stack(tmp_path, profile)
    await first.start(["db_db"])  # (its template built: `fixtures`)
    server = first.handles()["db"]
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        if taken == "fixtures":  # someone else's now, under the template's name
            conn.execute('ALTER DATABASE "fixtures" IS_TEMPLATE false')
            conn.execute('DROP DATABASE "fixtures" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{taken}"')
    theirs = server.dsn.rsplit("/", 1)[0] + f"/{taken}"
    with psycopg.connect(theirs) as conn:
        conn.execute("CREATE TABLE precious (v int)")
        conn.execute("INSERT INTO precious VALUES (42)")
    await first.close()
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int, sku text);\n")  # rebuild
    again = await make_stack(tmp_path, profile)
    with pytest.raises(StartError) as e:
        await again.start(["db_db"])
    assert f"database {taken!r} on the server of db was not made by stackfixtures" in str(e.value)
    server = again.handles()["db"]
    with psycopg.connect(server.dsn.rsplit("/", 1)[0] + f"/{taken}") as conn:  # (dropped before)
        assert conn.execute("SELECT v FROM precious").fetchall() == [(42,)]
    await again.close()
