"""`stack export compose`: a Compose file with one service per stack service."""

from __future__ import annotations

import re
from typing import Any

from .._define.container import Container
from .._engine.probes.registry import compose_test
from .._project import Project
from .containers import containers

LOOPBACK = "127.0.0.1"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _restart(c: Container) -> str:
    policy = c.restart.policy
    if policy == "on-failure":
        return f"on-failure:{c.restart.max_restarts}"
    return policy


def _condition(dep: str, healthy: set[str], tasks: set[str]) -> str:
    """What a dependent waits for: a task to exit 0, a service to be healthy or started."""
    if dep in tasks:
        return "service_completed_successfully"
    return "service_healthy" if dep in healthy else "service_started"


def _ports(c: Container, taken: set[int]) -> list[str]:
    """Its published ports, on the host's loopback only (as the stack publishes them): at the
    host port the profile pins, else at the container port's own number when no other service
    has it, else (replicas, or taken) at one the engine picks."""
    out = []
    for inside, outside in c.ports:
        number = int(inside.partition("/")[0])
        host = outside or number
        if c.replicas > 1 or (outside is None and host in taken):
            out.append(f"{LOOPBACK}::{inside}")
            continue
        taken.add(host)
        out.append(f"{LOOPBACK}:{host}:{inside}")
    return out


def _healthcheck(c: Container) -> dict[str, Any] | None:
    if c.healthcheck is not None:
        return c.healthcheck
    if c.ready is None:
        return None
    return {
        "test": compose_test(c.ready),
        "interval": _seconds(c.ready.period),
        "timeout": _seconds(c.ready.timeout),
        "retries": c.ready.failures,
        "start_period": _seconds(c.start_period),
    }


def _escaped(value: Any) -> Any:
    """Every `$` doubled: Compose would fill `$NAME` from its own environment, and what the
    stack rendered is meant as written (a shell's `$HOME`, a password's `$`)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def _service(c: Container, healthy: set[str], tasks: set[str], taken: set[int]) -> dict[str, Any]:
    svc: dict[str, Any] = {"image": c.image} if c.image else {}
    if c.build is not None:
        svc["build"] = c.build
    for key, value in (
        ("entrypoint", c.entrypoint),
        ("command", c.command),
        ("user", c.user),
        ("working_dir", c.workdir),
        ("environment", c.env),
    ):
        if value:
            svc[key] = value
    ports = _ports(c, taken)
    if ports:
        svc["ports"] = ports
    health = _healthcheck(c)
    if health is not None:
        svc["healthcheck"] = health
    if c.depends_on:
        svc["depends_on"] = {
            dep: {
                "condition": _condition(dep, healthy, tasks),
                "restart": edge == "restart",
                "required": True,
            }
            for dep, edge in c.depends_on
        }
    svc["stop_signal"] = c.stop.signal.name
    svc["stop_grace_period"] = _seconds(c.stop.grace)
    svc["restart"] = "no" if c.task else _restart(c)
    volumes = ([f"{c.name}-data:{c.volume}"] if c.volume else []) + c.volumes
    if volumes:
        svc["volumes"] = volumes
    if c.replicas > 1:
        svc["deploy"] = {"replicas": c.replicas}
    return _escaped(svc)  # type: ignore[no-any-return]


def _named(volume: str) -> str | None:
    """The volume's name when `volume` mounts a named one (not a host path)."""
    source, sep, _ = volume.partition(":")
    return source if sep and not source.startswith(("/", ".", "~")) else None


def document(proj: Project) -> dict[str, Any]:
    """The Compose document (a dict) for the profile; ProfileError with every service that
    cannot be exported (file:line and key each)."""
    items = containers(proj)
    healthy = {c.name for c in items if c.image_health or _healthcheck(c) is not None}
    tasks = {c.name for c in items if c.task}
    taken: set[int] = set()
    services = {c.name: _service(c, healthy, tasks, taken) for c in items}
    volumes: dict[str, Any] = {
        name: {}
        for svc in services.values()
        for v in svc.get("volumes", [])
        if (name := _named(v)) is not None
    }
    name = re.sub(r"[^a-z0-9_-]", "-", f"{proj.root.name}-{proj.label}".lower()).strip("-_")
    doc: dict[str, Any] = {"name": name or "stack", "services": services}
    if volumes:
        doc["volumes"] = volumes
    return doc
