"""`stack export compose`: a Compose file with one service per stack service."""

from __future__ import annotations

import re
from typing import Any

from .._define.container import Container
from .._engine.probes.registry import compose_test
from .._project import Project
from .containers import containers


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


def document(proj: Project) -> dict[str, Any]:
    """The Compose document (a dict) for the profile."""
    items = containers(proj)
    healthy = {c.name for c in items if c.ready is not None}
    tasks = {c.name for c in items if c.task}
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for c in items:
        svc: dict[str, Any] = {"image": c.image}
        if c.command:
            svc["command"] = c.command
        if c.env:
            svc["environment"] = c.env
        if c.port:
            svc["expose"] = [str(c.port)]
        if c.ready is not None:
            svc["healthcheck"] = {
                "test": compose_test(c.ready),
                "interval": _seconds(c.ready.period),
                "timeout": _seconds(c.ready.timeout),
                "retries": c.ready.failures,
                "start_period": _seconds(c.start_period),
            }
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
        if c.volume:
            volume = f"{c.name}-data"
            svc["volumes"] = [f"{volume}:{c.volume}"]
            volumes[volume] = {}
        if c.replicas > 1:
            svc["deploy"] = {"replicas": c.replicas}
        services[c.name] = svc
    name = re.sub(r"[^a-z0-9_-]", "-", f"{proj.root.name}-{proj.label}".lower()).strip("-_")
    doc: dict[str, Any] = {"name": name or "stack", "services": services}
    if volumes:
        doc["volumes"] = volumes
    return doc
