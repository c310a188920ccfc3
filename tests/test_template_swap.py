"""A template rebuilt while clones are made from it: the new one takes the old one's place in
one step, so a CREATE DATABASE ... TEMPLATE made meanwhile never finds it missing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stackfixtures import _project as projects

from .test_per_test_pool import SERVER
from .test_templates import reload

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def clone_until(dsn: str, template: str, stop: threading.Event, errors: list[str]) -> int:
    """Clone `template` (and drop the clone) again and again until `stop`; errors collected."""
    made = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            try:
                conn.execute(f'CREATE DATABASE "swap_clone" TEMPLATE "{template}"')
                made += 1
            except psycopg.Error as e:
                errors.append(str(e).strip())
            conn.execute('DROP DATABASE IF EXISTS "swap_clone" WITH (FORCE)')
    return made


async def test_clones_made_during_a_rebuild_find_a_template(
    tmp_path: Path, make_stack: Any
) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE items (id int);\n")
    stack = await make_stack(tmp_path, SERVER + 'template = { schema_file = "schema.sql" }\n')
    recorded = projects.fingerprints(projects.load("dev", root=tmp_path).graph, tmp_path)
    await stack.start(["postgres-template"])
    server = stack.handles()["postgres"]
    stop, errors = threading.Event(), []
    cloning = asyncio.create_task(
        asyncio.to_thread(clone_until, server.dsn, server.template, stop, errors)
    )
    try:
        for n in range(3):  # each rebuild swaps the template while clones are being made
            (tmp_path / "schema.sql").write_text(f"CREATE TABLE items (id int, v{n} int);\n")
            assert await reload(stack, tmp_path, recorded) == ["postgres-template"]
    finally:
        stop.set()
        made = await cloning
    assert made > 0
    assert errors == []
