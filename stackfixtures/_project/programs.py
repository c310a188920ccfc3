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
import shutil
from collections.abc import Collection, Iterable

from .._config.suggest import did_you_mean
from .._engine.venv import own_bin_first
from ..errors import Problem, ProfileError
from .entries import entries
from .load import Project


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
