"""Writing a validated profile's compiled form (compiled.py says what it holds, under which key,
and what is never compiled). Run on the full path only, after everything validated."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from .._config.include import includes
from .._config.locate import default_state_dir
from .._define.service import ServiceDefinition
from . import compiled
from .entries import entries

if TYPE_CHECKING:
    from .._config.load import Profile
    from .project import Project

NOT_COMPILED = frozenset({"postgres_template"})
"""Built-in kinds whose definitions are made of code (a template's builder runs its tasks)."""


def _same(d: ServiceDefinition) -> bool:
    """Whether the plain form of `d` gives back `d` (and its options, validated again from the
    plain config, the same options): else it is not compiled."""
    from .. import kinds

    if d.kind not in kinds.BUILTIN or d.kind in NOT_COMPILED:
        return False
    kind = kinds.get(d.kind)
    if kind is None or kind.service.function is not d.function:
        return False
    if kind.service.config_model is not d.config_model:
        return False
    plain = json.loads(json.dumps(compiled.encode(d)))
    back = compiled.decode(plain, kind.service)
    if dataclasses.replace(back, options=None) != dataclasses.replace(d, options=None):
        return False
    if d.options is None:
        return back.options is None
    try:  # (options_of validates the config again; plain_options takes it as it is)
        again = type(d.options).model_validate(back.config)
        return bool(again == d.options and back.options == d.options.model_dump(exclude_none=True))
    except Exception:  # (a validator that needs more than the config, e.g. the profile's dir)
        return False


def _profile(loaded: Profile) -> dict[str, Any]:
    """What CachedProfile gives back: the profile's file, `[stack]`'s environment, and the
    programs each entry runs with where they are written (programs.check words them)."""
    programs: dict[str, dict[str, Any]] = {}
    where: dict[str, list[Any]] = {}
    for name in loaded.spec.services:
        found = entries(loaded, name)
        if found is None:
            continue
        env, named = found
        programs[name] = {"env": env, "programs": [[list(k), p] for k, p in named]}
        for key, _ in named:
            p = loaded.problem(key, "")
            where[json.dumps(list(key))] = [p.file, p.key, p.line, p.column]
    stack = loaded.spec.stack
    return {
        "name": loaded.name,
        "path": str(loaded.path),
        "stack": {
            "env": {k: str(v) for k, v in stack.env.items()},
            "conventional_env": stack.conventional_env,
            "unset_env": list(stack.unset_env),
        },
        "programs": programs,
        "where": where,
    }


def store(
    proj: Project,
    loaded: Profile,
    imported: bool,
    asked: dict[str, Any],
) -> bool:
    """Write `proj`'s compiled form, if it can be compiled (see compiled.py); whether it was.
    `imported`: whether the load imported Python modules (then it is not)."""
    if not compiled.enabled() or imported or includes(loaded.raw) or loaded.origins is None:
        return False
    defs = proj.graph.definitions
    if not all(_same(d) for d in defs.values()):
        return False
    files = [*loaded.origins.files, str(proj.root / "conftest.py")]
    data = {
        "format": compiled.FORMAT,
        "inputs": asked,
        "files": files,
        "key": compiled.key(asked, files),
        "profile": _profile(loaded),
        "definitions": {n: compiled.encode(d) for n, d in defs.items()},
        "selected": proj.selected,
        "parallelism": proj.parallelism,
        "mode": proj.mode,
        "events": None if proj.events is None else dataclasses.asdict(proj.events),
        "aside": proj.aside,
        "state_dir": str(default_state_dir(proj.root, loaded.name, loaded.spec.stack.state_dir)),
    }
    from .._engine import private_files

    private_files.write(compiled.where_to(asked), json.dumps(data))
    return True
