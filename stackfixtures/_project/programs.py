"""The programs a profile runs, looked up before anything starts: a command (or an exec probe)
whose program is not on the PATH it will run with fails `stack validate` and the launcher
(`up`, `run`, `exec`) with the closest program there, not after the services it depends on
have started. Checked once the profile is otherwise right, on what will start: a service
replaced by an endpoint (`--replace`) runs nothing, and `stack export` needs no local program.

Only bare names are looked up (`psql`, not `./bin/server`: a path may be made by a task that
runs first), on the PATH a service gets (_engine/venv.py: the activated virtualenv, stack's own,
then PATH; or the entry's own `env.PATH`)."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .._config.positions import KeyPath
from .._config.suggest import did_you_mean
from .._engine.probes import registry
from .._engine.venv import own_bin_first
from ..errors import Problem, ProfileError
from .compiled import CachedProfile
from .load import Project

if TYPE_CHECKING:
    from .._config.load import Profile


def check(proj: Project, names: Iterable[str], replaced: Collection[str] = ()) -> None:
    """Raise a ProfileError naming each program that cannot be found, of the profile entries
    that will start: `names` and what they need, but those `replaced`."""
    profile = proj.profile
    if profile is None:
        return
    problems: list[Problem] = []
    for name in proj.graph.closure([n for n in names if n in proj.graph]):
        found = entries(profile, name)
        if found is None or name in replaced:
            continue
        env = own_bin_first({**os.environ, **found[0]})
        path = env.get("PATH", os.defpath)
        if "${" in path:  # filled in only when it starts
            continue
        for key, program in found[1]:
            if "/" in program or "${" in program or shutil.which(program, path=path):
                continue
            problems.append(
                profile.problem(
                    key,
                    f"{program!r} is not a program on PATH{did_you_mean(program, _on(path))} "
                    "(install it, or give its path)",
                )
            )
    if problems:
        raise ProfileError.of(problems)


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


def _on(path: str) -> list[str]:
    """The names of the programs on `path` (for a did-you-mean)."""
    names: list[str] = []
    for folder in path.split(os.pathsep):
        try:
            with os.scandir(folder or ".") as entries:
                names += [e.name for e in entries if os.access(e.path, os.X_OK)]
        except OSError:
            continue
    return names
