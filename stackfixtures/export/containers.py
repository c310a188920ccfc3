"""Each session service of a profile as a container: image, command, port, environment with
`${svc.attr}` wiring resolved to container names, probes, stop policy, dependencies, volume.

Data kinds map to their official images; every other service says in its profile's `export`
table which image (and command) runs it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..define import templates as wiring
from ..define.graph import Graph
from ..define.policies import RestartPolicy, StopPolicy, override_stop, stop
from ..define.service import Scope, ServiceDefinition
from ..errors import ProfileError
from ..kinds.external import handle_for
from ..project import Project

DEFAULT_APP_PORT = 8000


@dataclass(frozen=True)
class ProbeSpec:
    kind: str  # "http" | "tcp" | "exec"
    port: int | None = None
    path: str = "/"
    argv: tuple[str, ...] = ()
    period: float = 5.0
    timeout: float = 2.0
    failures: int = 3


@dataclass
class Container:
    name: str
    image: str
    command: list[str] | None
    port: int | None
    env: dict[str, str]
    ready: ProbeSpec | None
    live: ProbeSpec | None
    stop: StopPolicy
    restart: RestartPolicy
    start_period: float
    depends_on: list[tuple[str, str]] = field(default_factory=list)  # (name, edge)
    volume: str | None = None
    replicas: int = 1
    attrs: dict[str, Any] = field(default_factory=dict)  # its handle, as other containers see it


Namer = Callable[[str], str]


def _data_kind(name: str, d: ServiceDefinition, host: str) -> Container | None:
    cfg = d.config
    if d.kind == "postgres":
        user, db = cfg.get("user", "postgres"), cfg.get("dbname", "postgres")
        dsn = f"postgresql://{user}@{host}:5432/{db}"
        return Container(
            name,
            "postgres:18",
            None,
            5432,
            {"POSTGRES_USER": user, "POSTGRES_DB": db, "POSTGRES_HOST_AUTH_METHOD": "trust"},
            ProbeSpec("exec", 5432, argv=("pg_isready", "-U", user, "-d", db)),
            None,
            override_stop(stop("SIGINT", 30), d.stop_overrides),
            d.restart,
            d.timeout,
            volume="/var/lib/postgresql",
            attrs={"host": host, "port": 5432, "user": user, "dbname": db, "dsn": dsn, "url": dsn},
        )
    if d.kind == "redis":
        url = f"redis://{host}:6379/0"
        return Container(
            name,
            "valkey/valkey:8",
            ["valkey-server", "--appendonly", "yes"],
            6379,
            {},
            ProbeSpec("exec", 6379, argv=("valkey-cli", "ping")),
            None,
            override_stop(stop("SIGTERM", 10), d.stop_overrides),
            d.restart,
            d.timeout,
            volume="/data",
            attrs={"host": host, "port": 6379, "url": url, "db": 0},
        )
    if d.kind == "nats":
        url = f"nats://{host}:4222"
        return Container(
            name,
            "nats:2-alpine",
            ["nats-server", "-js", "-sd", "/data", "-m", "8222"],
            4222,
            {},
            ProbeSpec("http", 8222, "/healthz"),
            None,
            override_stop(stop("SIGTERM", 10), d.stop_overrides),
            d.restart,
            d.timeout,
            volume="/data",
            attrs={"host": host, "port": 4222, "url": url},
        )
    if d.kind == "kafka":
        env = {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        }
        probe = (
            "/opt/kafka/bin/kafka-broker-api-versions.sh",
            "--bootstrap-server",
            "localhost:9092",
        )
        return Container(
            name,
            "apache/kafka:4.0.0",
            None,
            9092,
            env,
            ProbeSpec("exec", 9092, argv=probe),
            None,
            override_stop(stop("SIGTERM", 60), d.stop_overrides),
            d.restart,
            d.timeout,
            volume="/var/lib/kafka/data",
            attrs={
                "host": host,
                "port": 9092,
                "bootstrap_servers": f"{host}:9092",
                "url": f"kafka://{host}:9092",
            },
        )
    return None


def _probe(
    spec: dict[str, Any] | None,
    port: int | None,
    render: Callable[[str], str],
    period: float = 5.0,
    timeout: float = 2.0,
    failures: int = 3,
) -> ProbeSpec | None:
    """A profile probe table as a container probe (log probes have no container equivalent)."""
    if not spec:
        return None
    if "http" in spec:
        url = render(str(spec["http"]))
        if url.startswith("/"):
            return ProbeSpec("http", port, url, period=period, timeout=timeout, failures=failures)
        parts = urlsplit(url)
        return ProbeSpec(
            "http",
            parts.port or port,
            parts.path or "/",
            period=period,
            timeout=timeout,
            failures=failures,
        )
    if "tcp" in spec:
        text = render(str(spec["tcp"]))
        return ProbeSpec(
            "tcp", int(text.rpartition(":")[2]), period=period, timeout=timeout, failures=failures
        )
    if "exec" in spec:
        argv = spec["exec"] if isinstance(spec["exec"], list) else shlex.split(spec["exec"])
        return ProbeSpec(
            "exec",
            port,
            argv=tuple(render(a) for a in argv),
            period=period,
            timeout=timeout,
            failures=failures,
        )
    return None


def _render_all(value: Any, render: Callable[[str], str]) -> Any:
    if isinstance(value, list):
        return [render(str(v)) for v in value]
    return render(str(value))


def containers(proj: Project, namer: Namer = str) -> list[Container]:
    """The profile's session services as containers, in start order."""
    graph: Graph = proj.graph
    file = str(proj.profile.path) if proj.profile else str(proj.root)
    out: list[Container] = []
    attrs: dict[str, Any] = {}  # name -> handle-like object for wiring
    for name in graph.closure(proj.selected):
        d = graph[name]
        host = namer(name)
        if d.kind == "external":
            attrs[name] = handle_for(str(d.config["url"]))
            continue
        if d.scope != Scope.SESSION:
            continue  # per-test services (postgres_db, ...) are not deployed
        exp = dict(d.export)
        container = _data_kind(name, d, host) if "image" not in exp else None
        if container is None:
            container = _app(name, d, exp, host, file, attrs)
        if "replicas" in exp:
            container.replicas = int(exp["replicas"])
        elif d.replicas > 1:
            container.replicas = d.replicas
        container.depends_on = [
            (dep, d.edge(dep))
            for dep in d.dependencies
            if dep in graph and graph[dep].scope == Scope.SESSION
        ]
        attrs[name] = _Attrs(container.attrs)
        out.append(container)
    return out


class _Attrs:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _app(
    name: str,
    d: ServiceDefinition,
    exp: dict[str, Any],
    host: str,
    file: str,
    attrs: dict[str, Any],
) -> Container:
    cfg = d.config
    image = exp.get("image")
    if not image:
        raise ProfileError(
            file,
            f"services.{name}.export.image",
            "an image is needed to run this service in a container",
        )
    port = exp.get("port") or cfg.get("port") or (DEFAULT_APP_PORT if d.kind == "command" else None)

    def own(key: str) -> Any:
        values = {
            "port": port or DEFAULT_APP_PORT,
            "host": "0.0.0.0",
            "name": host,
            "state_dir": "/data",
            "data_dir": "/data",
            "root": "/app",
        }
        return values[key]

    def render(text: str) -> str:
        return wiring.render(text, own, attrs)

    raw = exp.get("command") or cfg.get("command")
    if raw is None:
        raise ProfileError(
            file,
            f"services.{name}.export.command",
            "a command is needed to run this service in a container",
        )
    command = shlex.split(raw) if isinstance(raw, str) else list(raw)
    env = {k: render(str(v)) for k, v in {**d.env, **exp.get("env", {})}.items()}
    ready_spec = exp.get("ready") or cfg.get("ready")
    live = d.liveness
    live_spec = live.probe if live is not None and isinstance(live.probe, dict) else None
    url = f"http://{host}:{port}" if port else None
    return Container(
        name,
        str(image),
        _render_all(command, render),
        port,
        env,
        _probe(ready_spec, port, render),
        _probe(live_spec, port, render, live.period, live.timeout, live.failure_threshold)
        if live
        else None,
        override_stop(d.stop_policy or stop(), d.stop_overrides),
        d.restart,
        d.timeout,
        attrs={"host": host, "port": port, "url": url, **({"endpoint": url} if url else {})},
    )
