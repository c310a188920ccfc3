"""kafka: a real single-node Kafka in KRaft mode, from KAFKA_HOME or `home` in the profile.

No wheel ships Kafka, so where none is installed the kind fails with how to install one.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
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
    ServiceContext,
    ServiceDefinition,
    allocate_port,
    data_container,
    probes,
    run_once,
    service,
    spawn,
    stop,
)
from . import kafkaproto
from .base import Kind, moved
from .images import image_for

INSTALL_HINT = (
    "Kafka is not installed: download an Apache Kafka 3.x or 4.x binary release, unpack it, and "
    'set KAFKA_HOME to its directory (or `home = "..."` in the profile). It needs Java 17+.'
)
PORT = 9092
OPTIONS = "stackfixtures.kinds.kafka_options:KafkaConfig"
"""Its options model (kafka_options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""

__getattr__ = moved(__name__, "stackfixtures.kinds.kafka_options", ("KafkaConfig",))


def find_home(configured: str | None) -> Path:
    home = configured or os.environ.get("KAFKA_HOME")
    if not home:
        raise KindUnavailable(INSTALL_HINT)
    path = Path(home).expanduser()
    if not (path / "bin" / "kafka-server-start.sh").is_file():
        raise KindUnavailable(f"{path} has no bin/kafka-server-start.sh. {INSTALL_HINT}")
    return path


def metadata_probe(host: str, port: int) -> probes.CallProbe:
    """Ready when the cluster's metadata lists at least one broker."""

    async def check(ctx: ServiceContext) -> bool:
        return bool(await kafkaproto.brokers(host, port, timeout=1.0))

    return probes.call(check, name=f"kafka metadata {host}:{port}")


def _ports(ctx: ServiceContext) -> tuple[int, int]:
    """Broker and controller ports, kept across restarts: clients and the quorum remember them."""
    saved = ctx.data_dir / "ports.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        return int(data["broker"]), int(data["controller"])
    ports = ctx.port, allocate_port(ctx.host)
    saved.write_text(json.dumps({"broker": ports[0], "controller": ports[1]}))
    return ports


@service(config=OPTIONS)
async def kafka(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Kafka (KRaft, one node): storage formatted once; SIGTERM runs a controlled shutdown."""
    cfg = OptionsView.of(ctx.definition)
    home = find_home(cfg.home)
    host = ctx.host
    port, cport = _ports(ctx)
    logs = ctx.data_dir / "logs"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(logs),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "controlled.shutdown.enable": "true",
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in cfg.settings.items()},
    }
    conf = ctx.state_dir / "server.properties"
    conf.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    env = {
        "KAFKA_HEAP_OPTS": f"-Xmx{cfg.heap} -Xms{cfg.heap}",
        "LOG_DIR": str(ctx.state_dir / "kafka-logs"),
    }
    if not (logs / "meta.properties").exists():
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        await run_once(
            [str(home / "bin" / "kafka-storage.sh"), "format", "-t", cluster, "-c", str(conf)],
            ctx=ctx,
            env=env,
        )
    argv = [str(home / "bin" / "kafka-server-start.sh"), str(conf)]
    async with spawn(
        argv, env=env, ready=metadata_probe(host, port), stop=stop("SIGTERM", grace=60)
    ) as proc:
        yield Handle(
            host=host,
            port=port,
            bootstrap_servers=f"{host}:{port}",
            url=f"kafka://{host}:{port}",
            pid=proc.pid,
        )


def _external_attrs(url: SplitResult) -> dict[str, Any]:
    """`kafka://host:port` as the bootstrap servers clients are given."""
    return {"bootstrap_servers": f"{url.hostname or '127.0.0.1'}:{url.port or PORT}"}


def _probe(handle: Handle) -> probes.Probe:
    """An external broker is ready when its metadata lists a broker."""
    return metadata_probe(handle.host, handle.port)


def release_version(home: Path) -> str | None:
    """The release's version from its broker jar's name (`libs/kafka_2.13-4.0.0.jar`: 4.0.0),
    read without starting a JVM."""
    for jar in sorted((home / "libs").glob("kafka_*-*.jar")):
        version = jar.stem.rpartition("-")[2]
        if version[:1].isdigit():
            return version
    return None


def _container(d: ServiceDefinition, host: str) -> Container:
    """The official image as one KRaft node, advertising the name other containers use."""
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{PORT},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{PORT}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    }
    probe = (
        "/opt/kafka/bin/kafka-broker-api-versions.sh",
        "--bootstrap-server",
        f"localhost:{PORT}",
    )
    return data_container(
        d,
        image=image_for(
            "apache/kafka", lambda: release_version(find_home(d.config.get("home"))), "4.0.0"
        ),
        port=PORT,
        env=env,
        ready=ContainerProbe("exec", PORT, argv=probe),
        stop=stop("SIGTERM", 60),
        volume="/var/lib/kafka/data",
        attrs={
            "host": host,
            "port": PORT,
            "bootstrap_servers": f"{host}:{PORT}",
            "url": f"kafka://{host}:{PORT}",
        },
    )


def client_env(handle: Handle) -> dict[str, str]:
    """KAFKA_BOOTSTRAP_SERVERS, the usual name for a client's bootstrap.servers."""
    return {"KAFKA_BOOTSTRAP_SERVERS": str(handle.bootstrap_servers)}


KAFKA = Kind(
    name="kafka",
    service=kafka,
    summary="a single-node KRaft Kafka: ready on cluster metadata, controlled shutdown on SIGTERM",
    handle=("host", "port", "bootstrap_servers", "url", "pid"),
    binaries="`home`, else KAFKA_HOME: an Apache Kafka binary release (no wheel ships one)",
    schemes=("kafka",),
    default_port=PORT,
    external_attrs=_external_attrs,
    probe=_probe,
    container=_container,
    client_env=client_env,
)
