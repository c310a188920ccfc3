"""Containers a stack started: labelled with it, recorded with their engine, removed by the
watchdog or a sweep when its launcher died (the way Ryuk does for testcontainers, with no
extra container).

A container kind labels each container it creates (`labels`) and records the engine's URL in
the stack's ledger (`record_engine`); after a SIGKILL of the launcher, whoever cleans up asks
each recorded engine for the containers carrying the stack's label and removes them, forced.
The docker SDK is imported only then (the watchdog waits without it).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

STACK_LABEL = "io.stackfixtures.stack"
SERVICE_LABEL = "io.stackfixtures.service"
ROOT_LABEL = "io.stackfixtures.project"


def labels(ctx: Any) -> dict[str, str]:
    """The labels of every container a service of this stack creates: the stack's id (what
    cleanup looks for), the service and the project."""
    return {STACK_LABEL: ctx.stack_id, SERVICE_LABEL: ctx.name, ROOT_LABEL: str(ctx.root)}


def record_engine(ctx: Any, url: str) -> None:
    """Write the engine `url` into the stack's ledger before a container is created there, so a
    watchdog or a sweep knows where to look."""
    if ctx.ledger is not None:
        ctx.ledger.add_engine(url)


def engines(ledger_path: Path) -> list[str]:
    """The engines a stack's ledger recorded ([] when none, or the ledger is unreadable)."""
    try:
        found = json.loads(Path(ledger_path).read_text()).get("engines", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(url) for url in found] if isinstance(found, list) else []


def remove_labelled(urls: list[str], stack_id: str) -> int:
    """Remove (forced) every container of stack `stack_id` on each engine; returns how many.
    An engine that does not answer is skipped: its containers, if any, are reported by the
    next sweep, which asks again."""
    if not urls:
        return 0
    import docker

    removed = 0
    for url in urls:
        with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
            client = docker.DockerClient(base_url=url, timeout=10)
            try:
                found = client.containers.list(
                    all=True, filters={"label": f"{STACK_LABEL}={stack_id}"}
                )
                for container in found:
                    with contextlib.suppress(docker.errors.NotFound):
                        container.remove(force=True)
                        removed += 1
            finally:
                client.close()
    return removed
