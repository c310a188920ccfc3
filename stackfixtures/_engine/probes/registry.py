"""The probe registry: every probe a profile can name, found in this package's modules.

A probe module that a profile can use (`ready = { tcp = "${port}" }`) declares `PROBE`, a
`ProbeType`: its key in a profile table, the type of its value there, how that value becomes a
probe (what runs), and how it runs in a container (`stack export`: the container probe, the
Compose healthcheck test, the Kubernetes probe action). The profile schema, `from_spec`, the
exporters and the program check ask this registry, so a new probe is one new module here.
Pure Python: nothing here imports pydantic (the schema builds its model from `fields()`).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..._define.container import ContainerProbe
from .base import Probe

Render = Callable[[str], str]
"""Fills a profile's `${...}` templates as the container sees them."""
Compose = Callable[[ContainerProbe], list[str]]
"""A container probe as a Compose healthcheck `test`."""
K8s = Callable[[ContainerProbe], dict[str, Any]]
"""A container probe as a Kubernetes probe's action (`{"httpGet": {...}}`)."""


def _no_container(value: Any, port: int | None, render: Render) -> ContainerProbe | None:
    return None


def _no_program(value: Any) -> str | None:
    return None


@dataclass(frozen=True)
class ProbeType:
    """One kind of probe a profile can name."""

    key: str
    """Its key in a probe table: `ready = { KEY = value }`."""
    order: int
    """Several keys in one table mean all of them, checked in this order (cheap ones first)."""
    value: Any
    """The value's type in a profile: str, int, list[str] or a union of them (the schema makes
    it strict: a string must say something, a number is never a boolean, a list is never empty)."""
    parse: Callable[[Any], Probe]
    """The probe for a value of that type; raises ValueError for one that says nothing useful
    (the schema reports it at the key)."""
    container: Callable[[Any, int | None, Render], ContainerProbe | None] = _no_container
    """The value as a container probe (for `stack export`), given the container's port; None
    when a container cannot run it."""
    compose: Compose | None = None
    """A container probe of this key as a Compose healthcheck `test`."""
    k8s: K8s | None = None
    """A container probe of this key as a Kubernetes probe's action (`{"httpGet": ...}`)."""
    program: Callable[[Any], str | None] = _no_program
    """The program the probe runs, checked on PATH before anything starts (None: none)."""
    export_rank: int = 0
    """Which check a container gets when a table has several it can run (`stack export`): the
    highest rank. Not the check order: that runs cheap checks first, this exports the check
    that says most of the service as the container sees it (http 30 > grpc 25 > tcp 20 >
    exec 10: an exec check runs a program of the host, which the image may not have)."""

    def __post_init__(self) -> None:
        runs_in_container = self.container is not _no_container
        if runs_in_container and (self.compose is None or self.k8s is None):
            raise ValueError(
                f"probe {self.key!r}: a probe with a container form says how Compose and "
                "Kubernetes run it (compose and k8s)"
            )


@functools.cache
def types() -> tuple[ProbeType, ...]:
    """Every probe type, in check order: each module of this package that declares `PROBE`."""
    found: list[ProbeType] = []
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        module = importlib.import_module(f"{__package__}.{info.name}")
        declared = getattr(module, "PROBE", None)
        if not isinstance(declared, ProbeType):
            continue
        if any(t.key == declared.key for t in found):
            raise ValueError(
                f"two probes declare the key {declared.key!r} (one in {module.__name__})"
            )
        found.append(declared)
    return tuple(sorted(found, key=lambda t: (t.order, t.key)))


def keys() -> tuple[str, ...]:
    """The keys a probe table may name, in check order."""
    return tuple(t.key for t in types())


def get(key: str) -> ProbeType:
    """The probe type of `key` (KeyError for a key no probe declares)."""
    for t in types():
        if t.key == key:
            return t
    raise KeyError(key)


def fields() -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    """For the schema: each key's value type and its check (the parse, its result dropped)."""
    return {t.key: (t.value, t.parse) for t in types()}


def from_spec(spec: Mapping[str, Any]) -> Probe:
    """A probe from a profile table: `{tcp = "${port}"}`, `{http = url}`, `{exec = [..]}`,
    `{log = "regex"}`; several keys mean all of them, in check order."""
    from .call import all_

    found = [t.parse(spec[t.key]) for t in types() if t.key in spec]
    if not found:
        raise ValueError("a probe needs one of: " + ", ".join(keys()))
    return found[0] if len(found) == 1 else all_(*found)


def container_probe(
    spec: Mapping[str, Any], port: int | None, render: Render
) -> ContainerProbe | None:
    """A profile probe table as one container probe: of the checks a container can run, the
    one of highest `export_rank` (`{tcp, http}` and `{http, exec}` export the http check)."""
    ranked = sorted((t for t in types() if t.key in spec), key=lambda t: -t.export_rank)
    made = (t.container(spec[t.key], port, render) for t in ranked)
    return next((p for p in made if p is not None), None)


def programs(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, program) for each probe of the table that runs a program."""
    found = [(t.key, t.program(spec[t.key])) for t in types() if t.key in spec]
    return [(key, program) for key, program in found if program]


def _container_forms(probe: ContainerProbe) -> tuple[Compose, K8s]:
    """How Compose and Kubernetes run `probe`, as the probe of its kind says."""
    for t in types():
        if t.key == probe.kind and t.compose is not None and t.k8s is not None:
            return t.compose, t.k8s
    runnable = [t.key for t in types() if t.compose is not None]
    raise ValueError(
        f"a container probe of kind {probe.kind!r}: no probe says how a container runs it "
        f"(one of: {', '.join(runnable)})"
    )


def compose_test(probe: ContainerProbe) -> list[str]:
    """A container probe as a Compose healthcheck `test`."""
    return _container_forms(probe)[0](probe)


def k8s_action(probe: ContainerProbe) -> dict[str, Any]:
    """A container probe as a Kubernetes probe's action."""
    return _container_forms(probe)[1](probe)
