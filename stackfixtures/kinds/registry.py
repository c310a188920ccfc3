"""Finding kinds by name or URL scheme: the built-in ones, and those installed packages register
through the `stackfixtures.kinds` entry-point group.

Kinds are imported only when asked for, so importing the registry stays cheap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import DefinitionError
from ..kind_api import ServiceDefinition, import_object
from .base import Kind

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "stackfixtures.kinds"
"""The entry-point group third-party kinds register in: `name = "module:KIND"`."""

BUILTIN = {
    "command": "stackfixtures.kinds.command:COMMAND",
    "container": "stackfixtures.kinds.container:CONTAINER",
    "postgres": "stackfixtures.kinds.postgres:POSTGRES",
    "postgres_db": "stackfixtures.kinds.postgres:POSTGRES_DB",
    "postgres_template": "stackfixtures.kinds.postgres:POSTGRES_TEMPLATE",
    "redis": "stackfixtures.kinds.redis:REDIS",
    "redis_db": "stackfixtures.kinds.redis:REDIS_DB",
    "nats": "stackfixtures.kinds.nats:NATS",
    "nats_prefix": "stackfixtures.kinds.nats:NATS_PREFIX",
    "kafka": "stackfixtures.kinds.kafka:KAFKA",
    "external": "stackfixtures.kinds.external:EXTERNAL",
    "components": "stackfixtures.kinds.components:COMPONENTS",
    "xprocess": "stackfixtures.kinds.xprocess:XPROCESS",
}
"""Built-in kind name -> "module:ATTRIBUTE" of its Kind. Built-ins win over an entry point of the
same name."""


@functools.cache
def _entry_points() -> tuple[EntryPoint, ...]:
    """The installed packages' kind entry points, read once per process (reading them scans
    every installed distribution's metadata)."""
    from importlib.metadata import entry_points  # (a built-in kind needs none: not imported)

    return tuple(entry_points(group=GROUP))


def builtin_names() -> list[str]:
    """The kinds that come with stackfixtures (what the README's table lists)."""
    return sorted(BUILTIN)


def names() -> list[str]:
    """Every kind a profile can name, built-in or registered, without importing any of them."""
    return sorted({*BUILTIN, *(ep.name for ep in _entry_points())})


def _load(ep: EntryPoint) -> Kind:
    """The Kind an entry point names; a broken one is a DefinitionError naming it."""
    where = f"entry point {ep.name!r} = {ep.value!r} (group {GROUP}"
    dist = getattr(ep, "dist", None)
    where += f", from {dist.name} {dist.version})" if dist is not None else ")"
    try:
        obj = ep.load()
    except Exception as e:
        raise DefinitionError(
            f"kind {ep.name!r}: cannot load {where}: {type(e).__name__}: {e}"
        ) from None
    if isinstance(obj, ServiceDefinition):
        return Kind.of(ep.name, obj)
    if not isinstance(obj, Kind):
        raise DefinitionError(
            f"kind {ep.name!r}: {where} names a {type(obj).__name__}, "
            "not a stackfixtures.kinds.Kind (or an @service)"
        )
    if obj.name != ep.name:
        raise DefinitionError(
            f"kind {ep.name!r}: {where} names a Kind called {obj.name!r}; the two must match"
        )
    return obj


def get(name: str) -> Kind | None:
    """The kind behind `kind = "<name>"`, or None when there is no such kind."""
    target = BUILTIN.get(name)
    if target is not None:
        kind = import_object(target)
        assert isinstance(kind, Kind) and kind.name == name, target
        return kind
    for ep in _entry_points():
        if ep.name == name:
            return _load(ep)
    return None


def for_scheme(scheme: str) -> Kind | None:
    """The kind whose URLs use `scheme` (`postgresql`, `redis`, ...), or None. Built-ins are
    asked first, so a broken third-party package cannot break a built-in scheme."""
    scheme = scheme.lower()
    for name in builtin_names():
        kind = get(name)
        if kind is not None and scheme in kind.schemes:
            return kind
    for ep in _entry_points():
        if ep.name not in BUILTIN:
            kind = _load(ep)
            if scheme in kind.schemes:
                return kind
    return None


def of_handle(name: str | None, handle: dict[str, object]) -> Kind | None:
    """The kind a running service's clients see: its own, except that an `external` (or
    --replace'd) service counts as the kind of its URL's scheme (an external redis gives
    REDIS_URL like a started one). None for no kind, or a third-party kind that is broken."""
    try:
        kind = get(name) if name in names() else None
        if kind is not None and kind.name == "external" and handle.get("url"):
            kind = for_scheme(urlsplit(str(handle["url"])).scheme)
    except DefinitionError:  # `stack kinds` says which package is broken
        return None
    return kind
