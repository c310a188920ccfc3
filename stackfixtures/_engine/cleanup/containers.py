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

import json
from dataclasses import dataclass, field
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


@dataclass
class Removal:
    """What a removal did: each thing removed ("container NAME", "network NAME", "volume
    NAME"), and each engine that did not answer, with why (what it holds is still there)."""

    removed: list[str] = field(default_factory=list)
    unanswered: dict[str, str] = field(default_factory=dict)


def remove_labelled(urls: list[str], stack_id: str) -> Removal:
    """Remove everything of stack `stack_id` on each engine: its containers (forced, with their
    anonymous volumes), then its networks and volumes. An engine that does not answer (or
    stops answering midway) is named in the result's `unanswered`: whoever asked keeps the
    stack's record while there is one, for a later sweep."""
    done = Removal()
    if not urls:
        return done
    import docker

    ours: dict[str, Any] = {"label": f"{STACK_LABEL}={stack_id}"}
    for url in urls:
        try:
            client = docker.DockerClient(base_url=url, timeout=10)
            try:
                for container in client.containers.list(all=True, sparse=True, filters=ours):
                    name = (container.attrs.get("Names") or [container.short_id])[0]
                    if _gone(container.remove, force=True, v=True):
                        done.removed.append(f"container {name.lstrip('/')}")
                for network in client.networks.list(filters=ours):
                    if _gone(network.remove):
                        done.removed.append(f"network {network.name}")
                for volume in client.volumes.list(filters=ours):
                    if _gone(volume.remove, force=True):
                        done.removed.append(f"volume {volume.name}")
            finally:
                client.close()
        except (docker.errors.DockerException, OSError, ValueError) as e:
            done.unanswered[url] = str(e)
    return done


def _gone(remove: Any, **how: Any) -> bool:
    """True if `remove(**how)` removed it; False if it was gone already or is still in use (an
    engine's refusal of one thing does not keep the rest)."""
    import docker

    try:
        remove(**how)
    except docker.errors.APIError:  # (NotFound among them)
        return False
    return True
