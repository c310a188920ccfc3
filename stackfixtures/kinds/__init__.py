"""Built-in kinds: ordinary @service definitions, found by the name a profile gives in `kind`."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..model import ServiceDefinition

BUILTIN = {
    "command": "stackfixtures.kinds.command:command",
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
    module, _, attr = target.partition(":")
    definition = getattr(importlib.import_module(module), attr)
    assert isinstance(definition, ServiceDefinition)
    return definition
