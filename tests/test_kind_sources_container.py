"""postgres, redis and nats with `source = "container"`: the same profile as the local source's,
run from an image that keeps the official image's contract (tests/docker_images.py: built here
from the local servers, no registry), gives the same handle fields and a working real client;
per-test databases work on it; the stop is the kind's own signal, clean (exit 0), and nothing
of the stack is left on the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
import redis as redis_client

from stackfixtures import _project as projects
from stackfixtures._export import compose
from stackfixtures.errors import ProfileError, StartError

from .conftest import until, write_project

slow = pytest.mark.slow  # starts containers and servers (tests/spawns.py); the checks of
# options below start nothing: the fast tier

LABEL = "io.stackfixtures.stack"
PASSWORD = "s3cr:t/pw"  # URL-quoted in the DSN
SCHEMA = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n"
POSTGRES = """
[services.{name}]
kind = "postgres"
user = "app"
dbname = "appdb"
password = "{password}"
template = {{ schema_file = "schema.sql" }}
{source}

[services.{name}_db]
kind = "postgres_db"
inject = {{ postgres = "{name}" }}
"""


def lines(stack: Any, name: str) -> list[str]:
    return list(stack.units[name].log.tail(400))


def left(docker_client: Any, stack: Any) -> list[Any]:
    return list(
        docker_client.containers.list(
            all=True, sparse=True, filters={"label": f"{LABEL}={stack.stack_id}"}
        )
    )


@slow
async def test_postgres_from_an_image_is_the_local_server_with_per_test_databases(
    tmp_path: Path, make_stack: Any, docker_url: str, docker_client: Any, postgres_image: str
) -> None:
    (tmp_path / "schema.sql").write_text(SCHEMA)
    image = f'source = "container"\nimage = "{postgres_image}"\nengine = "{docker_url}"'
    profile = POSTGRES.format(name="local", password=PASSWORD, source='source = "system"')
    profile += POSTGRES.format(name="boxed", password=PASSWORD, source=image)  # no tag: local's
    stack = await make_stack(tmp_path, profile)
    handles = await stack.start(["local", "boxed"])
    local, boxed = handles["local"], handles["boxed"]
    assert set(boxed.as_dict()) == set(local.as_dict())
    for same in ("host", "user", "dbname", "password", "version", "template"):
        assert getattr(boxed, same) == getattr(local, same), same
    assert boxed.dsn == local.dsn.replace(f":{local.port}/", f":{boxed.port}/")
    [running] = left(docker_client, stack)
    assert running.image.tags == [f"{postgres_image}:{local.version.split('.')[0]}"]
    exported = compose.document(projects.load("dev", root=tmp_path))["services"]
    assert exported["boxed"]["image"] == running.image.tags[0]  # the image `stack export` writes
    with psycopg.connect(boxed.dsn) as conn:  # a password login over TCP (scram-sha-256)
        said = conn.execute("SELECT current_user, current_database()").fetchone()
        assert said == ("app", "appdb")

    one = (await stack.start(["boxed_db"]))["boxed_db"]  # per-test databases, cloned there
    assert (one.host, one.port) == (boxed.host, boxed.port)
    with psycopg.connect(one.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
        conn.execute("INSERT INTO items (name) VALUES ('only in one')")
    await stack.stop(["boxed_db"])
    two = (await stack.start(["boxed_db"]))["boxed_db"]
    assert two.dbname != one.dbname
    with psycopg.connect(two.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    await stack.stop(["boxed_db"])

    await stack.stop(["boxed"])  # SIGINT (its fast shutdown): exit 0, the container removed
    log = lines(stack, "boxed")
    assert any(line.endswith("exited with 0") for line in log), log[-10:]
    assert not any(PASSWORD in line for line in log)  # (the entrypoint never says it)
    assert left(docker_client, stack) == []
    await stack.close()


SERVERS = """
[services.cache]
kind = "redis"
{redis}

[services.cache_db]
kind = "redis_db"
inject = {{ redis = "cache" }}

[services.bus]
kind = "nats"
{nats}
"""


@slow
async def test_redis_and_nats_from_images_are_the_local_servers_and_stop_clean(
    tmp_path: Path,
    make_stack: Any,
    docker_url: str,
    docker_client: Any,
    valkey_image: str,
    nats_image: str,
) -> None:
    local = await make_stack(tmp_path / "local", SERVERS.format(redis="", nats=""))
    at_home = await local.start(["cache", "bus"])
    await local.close()
    engine = f'source = "container"\nengine = "{docker_url}"'
    profile = SERVERS.format(
        redis=f'{engine}\nimage = "{valkey_image}"', nats=f'{engine}\nimage = "{nats_image}"'
    )
    stack = await make_stack(tmp_path / "boxed", profile)
    handles = await stack.start()
    for name in ("cache", "bus"):
        assert set(handles[name].as_dict()) == set(at_home[name].as_dict()), name
    tags = {
        c.attrs["Labels"]["io.stackfixtures.service"]: c.attrs["Image"]
        for c in left(docker_client, stack)
    }
    assert tags["cache"].startswith(f"{valkey_image}:") and tags["bus"].startswith(nats_image)
    exported = compose.document(projects.load("dev", root=tmp_path / "boxed"))["services"]
    assert {n: exported[n]["image"] for n in tags} == tags  # run and export: one image each

    cache, scoped = handles["cache"], handles["cache_db"]
    assert cache.url == f"redis://127.0.0.1:{cache.port}/0" and scoped.db != 0
    client = redis_client.Redis.from_url(scoped.url)
    client.set(f"{scoped.prefix}k", "v")
    assert client.get(f"{scoped.prefix}k") == b"v"
    client.close()

    bus = handles["bus"]
    assert bus.url == f"nats://127.0.0.1:{bus.port}" and bus.jetstream
    nc = await nats.connect(bus.url)
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.*"])
    ack = await js.publish("orders.1", b"one")
    assert ack.stream == "ORDERS"
    await nc.close()

    await stack.stop(["cache_db", "cache", "bus"])  # SIGTERM: each server's own clean exit
    for name in ("cache", "bus"):
        await until(lambda n=name: any(x.endswith("exited with 0") for x in lines(stack, n)))
    assert left(docker_client, stack) == []
    await stack.close()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('kind = "redis"\ntag = "8"', 'tag: only with source = "container"'),
        ('kind = "nats"\nsource = "container"\nbinary = "/x"', "binary: a local server's"),
        ('kind = "postgres"\nsource = "container"\nmemory = true', "memory: a local server's"),
        ('kind = "postgres"\nsource = "container"\nimage = "pg:15"\ntag = "16"', "has a tag"),
    ],
)
def test_image_options_only_with_the_container_source(tmp_path: Path, body: str, said: str) -> None:
    write_project(tmp_path, f"[services.s]\n{body}\n")
    with pytest.raises(ProfileError) as caught:
        projects.load("dev", root=tmp_path)
    assert said in str(caught.value)


@slow
async def test_an_image_the_engine_has_not_is_asked_for_and_a_failed_pull_fails_naming_it(
    tmp_path: Path, make_stack: Any, docker_url: str, docker_client: Any
) -> None:
    """A pull is tried (it says so in the log) and its failure names the image and engine. A
    pull that succeeds is not tested: no registry can be reached here, nor run without one."""
    missing = "stackfixtures-images/not-built-anywhere:1"  # no registry has it (or none here)
    body = f'kind = "nats"\nsource = "container"\nimage = "{missing}"\nengine = "{docker_url}"'
    stack = await make_stack(tmp_path, f"[services.bus]\n{body}\n")
    with pytest.raises(StartError) as caught:
        await stack.start()
    said = str(caught.value)
    assert f"image {missing!r} is not on the engine at {docker_url} and cannot be pulled" in said
    assert f"[stackfixtures] pulling {missing} on {docker_url}" in lines(stack, "bus")
    assert left(docker_client, stack) == []
    await stack.close()
