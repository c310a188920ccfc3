"""The programs a profile entry runs (its command, its exec probes), with the key that names
each: what programs.py looks up before a start, read from the validated profile or kept in its
compiled form (compiled.py)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._config.positions import KeyPath
from .._engine.probes import registry
from .compiled import CachedProfile

if TYPE_CHECKING:
    from .._config.load import Profile

Entry = tuple[dict[str, str], list[tuple[KeyPath, str]]]
"""A profile entry's own environment, and the programs it runs with the key naming each."""


def entries(profile: Profile | CachedProfile, name: str) -> Entry | None:
    """What `check` looks up for profile entry `name` (None: the profile has no such entry),
    from the validated profile or its compiled form (compiled.py)."""
    if isinstance(profile, CachedProfile):
        stored = profile.programs.get(name)
        if stored is None:
            return None
        return stored["env"], [(tuple(k), p) for k, p in stored["programs"]]
    spec = profile.spec.services.get(name)
    if spec is None:
        return None
    named = _programs(("services", name), spec.kind, spec.extras, spec.liveness)
    return {k: str(v) for k, v in spec.env.items()}, list(named)


def _programs(
    base: KeyPath, kind: str | None, extras: dict[str, Any], liveness: Any
) -> Iterator[tuple[KeyPath, str]]:
    """The programs an entry runs, with the key that names each: its command (a command
    entry's), its exec readiness probe and its exec liveness probe."""
    if kind in (None, "command"):
        command = extras.get("command")
        if isinstance(command, str):
            words = shlex.split(command)
            if words:
                yield (*base, "command"), words[0]
        elif isinstance(command, list) and command and isinstance(command[0], str):
            yield (*base, "command"), command[0]
        ready = extras.get("ready")
        if isinstance(ready, dict):
            yield from _probes((*base, "ready"), ready)
    if liveness is not None:
        yield from _probes((*base, "liveness"), liveness.as_probe_dict())


def _probes(key: KeyPath, table: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """The programs the probes of a table run (an exec probe's), as each probe says."""
    for probe, program in registry.programs(table):
        yield (*key, probe), program
