"""A template rebuilt by another process (say `stack up` beside this pytest: the same identity
seen here, so the same pool) while the pool holds ready clones of the old one: the next test
gets a clone of the new template, never one of the old."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from .conftest import until
from .test_per_test_pool import clones, templated

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def rebuild_elsewhere(server_dsn: str, template: str, url_of: Any) -> None:
    """What another process's builder does: a new template, with table `added`, swapped in."""
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "elsewhere_next" TEMPLATE "{template}"')
        with psycopg.connect(url_of("elsewhere_next"), autocommit=True) as new:
            new.execute("CREATE TABLE added (id int)")
        admin.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE false')
        admin.execute(f'ALTER DATABASE "{template}" RENAME TO "elsewhere_old"')
        admin.execute(f'ALTER DATABASE "elsewhere_next" RENAME TO "{template}"')
        admin.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE true')
        admin.execute('DROP DATABASE "elsewhere_old" WITH (FORCE)')


async def test_ready_clones_of_a_template_rebuilt_elsewhere_are_not_handed_out(
    tmp_path: Path, make_stack: Any
) -> None:
    stack = await templated(tmp_path, make_stack)
    first = (await stack.start(["postgres_db"]))["postgres_db"]
    server = stack.handles()["postgres"]
    await stack.stop(["postgres_db"])
    await until(lambda: len(clones(server.dsn) - {first.dbname}) >= 2, timeout=30)  # made ahead
    rebuild_elsewhere(server.dsn, server.template, lambda db: first.dsn.replace(first.dbname, db))
    fresh = (await stack.start(["postgres_db"]))["postgres_db"]
    with psycopg.connect(fresh.dsn) as conn:
        assert conn.execute("SELECT to_regclass('added')").fetchone() == ("added",)
    await stack.stop(["postgres_db"])
