"""The kind: everything stackfixtures knows about one kind of service, in one object.

A profile names a kind (`kind = "postgres"`); validation, `external`, the exporters, `stack kinds`
and the docs ask the kind rather than keeping tables of their own. A Kind is composed of plain
values and functions (no subclassing), so a third party writes one in a few lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from ..kind_api import Container, Handle, ServiceDefinition, model_of

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..kind_api import Probe


@dataclass(frozen=True)
class Kind:
    """One kind of service: its @service function and what the rest of the library asks of it."""

    name: str
    service: ServiceDefinition
    summary: str = ""  # one line, for `stack kinds` and the docs
    handle: tuple[str, ...] = ()  # the attribute names of the handle it yields
    # ... when they depend on the service's settings (a task, an external URL's kind)
    handle_of: Callable[[ServiceDefinition], tuple[str, ...]] | None = None
    binaries: str = ""  # where its binaries come from, one line ("" if it runs none of its own)

    # `external = "<url>"`: which URLs are of this kind, and how to use one
    schemes: tuple[str, ...] = ()
    default_port: int | None = None
    external_attrs: Callable[[SplitResult], dict[str, Any]] | None = None
    probe: Callable[[Handle], Probe] | None = None

    # `stack export`: how it runs in a container; the str is the host name others reach it by
    container: Callable[[ServiceDefinition, str], Container] | None = None

    # the variables its clients read by convention (DATABASE_URL, REDIS_URL, ...)
    client_env: Callable[[Handle], dict[str, str]] | None = None
    per_test: str | None = None  # the kind of its function-scoped per-test fixture

    @property
    def options(self) -> type[BaseModel] | None:
        """The pydantic model validating the keys a profile may set on a service of this kind."""
        model: type[BaseModel] | None = model_of(self.service.config_model)
        return model

    def handle_fields(self, definition: ServiceDefinition) -> tuple[str, ...]:
        """The attribute names of the handle `definition`, a service of this kind, yields (what
        `${name.attr}` may name); () when unknown."""
        return self.handle_of(definition) if self.handle_of is not None else self.handle

    @classmethod
    def of(cls, name: str, definition: ServiceDefinition) -> Kind:
        """A minimal kind around a bare @service (what older third-party entry points name)."""
        doc = (definition.function.__doc__ or "").strip()
        return cls(name=name, service=definition, summary=doc.splitlines()[0] if doc else "")


def moved(module: str, to: str, names: tuple[str, ...]) -> Callable[[str], Any]:
    """`module`'s `__getattr__` for `names` moved to module `to` (a kind's options model, in a
    module imported only to validate a profile): still importable from `module`, imported when
    first asked for."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(to), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
