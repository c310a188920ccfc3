"""Built-in kinds: ordinary @service definitions, found by the name a profile gives in `kind`."""

from __future__ import annotations

from importlib.metadata import entry_points

from ..config.imports import import_object
from ..define.service import ServiceDefinition

BUILTIN = {
    "command": "stackfixtures.kinds.command:command",
    "postgres": "stackfixtures.kinds.postgres:postgres",
    "postgres_db": "stackfixtures.kinds.postgres:postgres_db",
    "redis": "stackfixtures.kinds.redis:redis",
    "redis_db": "stackfixtures.kinds.redis:redis_db",
    "nats": "stackfixtures.kinds.nats:nats",
    "nats_prefix": "stackfixtures.kinds.nats:nats_prefix",
    "kafka": "stackfixtures.kinds.kafka:kafka",
    "external": "stackfixtures.kinds.external:external",
    "components": "stackfixtures.kinds.components:components",
    "xprocess": "stackfixtures.kinds.xprocess:xprocess",
}
"""kind name -> "module:attribute" of its ServiceDefinition. Third parties add kinds through the
`stackfixtures.kinds` entry point group."""


def names() -> list[str]:
    extra = [ep.name for ep in entry_points(group="stackfixtures.kinds")]
    return sorted({*BUILTIN, *extra})


def get(name: str) -> ServiceDefinition | None:
    """The definition behind `kind = "<name>"`, or None when there is no such kind."""
    target = BUILTIN.get(name)
    if target is None:
        for ep in entry_points(group="stackfixtures.kinds"):
            if ep.name == name:
                target = ep.value
                break
    if target is None:
        return None
    definition = import_object(target)
    assert isinstance(definition, ServiceDefinition)
    return definition
