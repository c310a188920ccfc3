"""A service as a container, for `stack export`: image, command, port, environment, probes, stop
policy, volume. Pure data in the definitions layer, so that each kind can say how it runs in a
container without importing the exporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .policies import LivenessPolicy, RestartPolicy, StopPolicy, override_stop
from .service import ServiceDefinition


@dataclass(frozen=True)
class ContainerProbe:
    """A container probe (a Compose healthcheck, a Kubernetes readiness or liveness probe).
    `kind` is the key of the probe that says how it runs (_engine/probes' registry: "tcp",
    "http", "exec", "grpc")."""

    kind: str
    port: int | None = None
    path: str = "/"
    argv: tuple[str, ...] = ()
    service: str = ""  # a grpc probe's service name ("": the server's overall health)
    period: float = LivenessPolicy.period  # as the service's own checks, unless it says
    timeout: float = LivenessPolicy.timeout
    failures: int = LivenessPolicy.failure_threshold


@dataclass
class Container:
    """One service as the exporters write it; `attrs` is its handle as other containers see it
    (what `${name.attr}` wiring resolves to)."""

    name: str
    image: str
    command: list[str] | None
    port: int | None
    env: dict[str, str]
    ready: ContainerProbe | None
    live: ContainerProbe | None
    stop: StopPolicy
    restart: RestartPolicy
    start_period: float
    depends_on: list[tuple[str, str]] = field(default_factory=list)  # (name, edge)
    volume: str | None = None  # where its data lives: a volume of its own is mounted there
    replicas: int = 1
    attrs: dict[str, Any] = field(default_factory=dict)
    task: bool = False  # runs to completion: dependents wait for it to exit 0
    # published on the host's loopback: (container port as "80" or "53/udp", host port or None
    # for the container port's own number); a service with a `port` and none of these gets it
    ports: list[tuple[str, int | None]] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)  # "NAME:/path[:ro]", "/host/path:/path[:ro]"
    entrypoint: list[str] | None = None
    user: str | None = None
    workdir: str | None = None
    build: dict[str, Any] | None = None  # Compose's `build`: context, dockerfile, args
    healthcheck: dict[str, Any] | None = None  # a Compose healthcheck as given (not `ready`'s)
    image_health: bool = False  # the image's own HEALTHCHECK says when it is healthy


def data_container(
    d: ServiceDefinition,
    *,
    image: str,
    port: int | None,
    ready: ContainerProbe | None,
    stop: StopPolicy,
    attrs: dict[str, Any],
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    volume: str | None = None,
) -> Container:
    """A kind's container (a server's, or a `container` service itself): named after the
    service, its own stop policy refined by the profile's `stop`, the service's restart policy,
    its start timeout as the start period."""
    return Container(
        d.name,
        image,
        command,
        port,
        dict(env or {}),
        ready,
        None,
        override_stop(stop, d.stop_overrides),
        d.restart,
        d.timeout,
        volume=volume,
        attrs=attrs,
    )
