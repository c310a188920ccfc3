"""Containers, networks and volumes a stack made on an engine: labelled with it, recorded with
their engine, removed by the watchdog or a sweep when its launcher died (the way Ryuk does for
testcontainers, with no extra container).

A container kind labels each container, network and volume it creates (`labels`,
`stack_labels`) and records the engine's URL in the stack's ledger (`record_engine`) before
the first; after a SIGKILL of the launcher, whoever cleans up asks each recorded engine for
what carries the stack's label and removes it: the containers (forced, with their anonymous
volumes), then the networks and volumes they were using. The docker SDK is imported only then
(the watchdog waits without it).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

STACK_LABEL = "io.stackfixtures.stack"
SERVICE_LABEL = "io.stackfixtures.service"
ROOT_LABEL = "io.stackfixtures.project"


def stack_labels(ctx: Any) -> dict[str, str]:
    """The labels of what the services of a stack share (its network): the stack's id (what
    cleanup looks for) and the project."""
    return {STACK_LABEL: ctx.stack_id, ROOT_LABEL: str(ctx.root)}


def labels(ctx: Any, service: str | None = None) -> dict[str, str]:
    """The labels of every container (and volume) a service of this stack creates: the
    stack's, and the service's name (`service`: another service's of the same stack)."""
    return {**stack_labels(ctx), SERVICE_LABEL: service or ctx.name}


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
    """Remove everything of stack `stack_id` on each engine: its containers (forced, with their
    anonymous volumes), then its networks and volumes; returns how many things went. An engine
    that does not answer is skipped: what it holds, if anything, is for the next sweep."""
    if not urls:
        return 0
    import docker

    removed = 0
    ours: dict[str, Any] = {"label": f"{STACK_LABEL}={stack_id}"}
    for url in urls:
        with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
            client = docker.DockerClient(base_url=url, timeout=10)
            try:
                for container in client.containers.list(all=True, sparse=True, filters=ours):
                    removed += _gone(container.remove, force=True, v=True)
                for network in client.networks.list(filters=ours):
                    removed += _gone(network.remove)
                for volume in client.volumes.list(filters=ours):
                    removed += _gone(volume.remove, force=True)
            finally:
                client.close()
    return removed


def _gone(remove: Any, **how: Any) -> int:
    """1 if `remove(**how)` removed it; 0 if it was gone already or is still in use (an engine's
    refusal of one thing does not keep the rest)."""
    import docker

    try:
        remove(**how)
    except docker.errors.APIError:  # (NotFound among them)
        return 0
    return 1
