"""external: use a server that already runs; probed, never started or stopped by the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import redis

import stackfixtures as sf
from stackfixtures import _project as projects
from stackfixtures.errors import ProfileError
from stackfixtures.kinds.external import handle_for

from .conftest import write_project

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


async def test_any_kind_switched_to_external(tmp_path: Path, make_stack: Any) -> None:
    # A real server started by one stack plays "the server you already run" for another.
    owner = await make_stack(
        tmp_path / "owner",
        """
[services.pg]
kind = "postgres"
source = "wheel"
[services.cache]
kind = "redis"
""",
    )
    running = await owner.start()
    pg_pid = running["pg"].pid
    user = await make_stack(
        tmp_path / "user",
        f"""
[services.postgres]
kind = "postgres"
external = "{running["pg"].dsn}"
[services.redis]
kind = "redis"
external = "{running["cache"].url}"
[services.redis_db]
kind = "redis_db"
""",
    )
    handles = await user.start(["postgres", "redis_db"])
    pg = handles["postgres"]
    assert (pg.host, pg.port, pg.user, pg.dbname) == (
        "127.0.0.1",
        running["pg"].port,
        "postgres",
        "postgres",
    )
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    per_test = handles["redis_db"]
    redis.Redis.from_url(per_test.url).set("k", "v")
    stops = await user.close()
    assert all(s.processes == [] for s in stops)  # nothing of its own to stop
    assert psutil.pid_exists(pg_pid)  # and the external server is left running
    assert redis.Redis.from_url(running["cache"].url).ping()


async def test_external_that_is_down_fails_with_the_probe(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(
        tmp_path,
        """
[services.api]
kind = "external"
url = "http://127.0.0.1:9/health"
start_timeout = 0.5
""",
    )
    with pytest.raises(sf.ProbeTimeout, match=r"service 'api' \(starting\): readiness probe http"):
        await stack.start()


def test_handle_from_urls() -> None:
    pg = handle_for("postgresql://app@db.internal:6543/orders")
    assert (pg.host, pg.port, pg.user, pg.dbname) == ("db.internal", 6543, "app", "orders")
    assert handle_for("redis://127.0.0.1/3").db == 3
    assert handle_for("nats://127.0.0.1").port == 4222


def test_kind_settings_do_not_apply_to_an_external(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        '[services.db]\nkind = "postgres"\nexternal = "postgresql://x@h/d"\nsource = "wheel"\n',
    )
    with pytest.raises(ProfileError, match=r"services\.db\.source: does not apply to an external"):
        projects.load("dev", root=tmp_path)


async def test_an_external_url_may_name_a_service_of_the_stack(
    tmp_path: Path, make_stack: Any
) -> None:
    """`url = "http://127.0.0.1:${good.port}"`: filled from the dependency's handle, as a
    command's templates are (it failed with "Port could not be cast to integer")."""
    stack = await make_stack(
        tmp_path,
        """
[services.good]
command = ["python3", "-m", "http.server", "${port}", "--bind", "127.0.0.1"]
ready = { http = "/" }
[services.api]
kind = "external"
url = "http://127.0.0.1:${good.port}/"
depends_on = ["good"]
""",
    )
    handles = await stack.start(["good", "api"])
    port = handles["good"].port
    assert (handles["api"].port, handles["api"].url) == (port, f"http://127.0.0.1:{port}/")
    await stack.close()
