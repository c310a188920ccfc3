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
from .apply_profile import written_in
from .entries import entries

if TYPE_CHECKING:
    from .._config.load import Profile
    from .modules import FromModules
    from .project import Project

NOT_COMPILED = frozenset({"postgres_template"})
"""Built-in kinds whose definitions are made of code (a template's builder runs its tasks)."""


def _base(d: ServiceDefinition, python: dict[str, ServiceDefinition]) -> list[str] | None:
    """What `d` was built on, as the compiled form names it: a built-in kind's service, or an
    `@service` of the stack's modules (its own name first); None when neither (not compiled)."""
    from .. import kinds

    if d.kind in kinds.BUILTIN and d.kind not in NOT_COMPILED:
        kind = kinds.get(d.kind)
        if kind is not None and kind.service.function is d.function:
            same_model = kind.service.config_model is d.config_model
            return ["kind", d.kind] if same_model else None
    for name in sorted(python, key=lambda n: n != d.name):
        p = python[name]
        if p.function is d.function and p.config_model is d.config_model:
            return ["python", name]
    return None


def _form(
    d: ServiceDefinition, base: list[str], python: dict[str, ServiceDefinition], loaded: Profile
) -> dict[str, Any] | None:
    """The compiled form of `d`, if it gives back `d` (and its options, validated again from
    the plain config, the same options); else None: it is not compiled. An `@service`'s
    options keep the keys the profile wrote: a hit validates them with its model as it is
    then (its defaults may come from code or the environment the key does not see)."""
    data: dict[str, Any] = {**compiled.encode(d), "base": base}
    if base[0] == "python" and d.options is not None:
        spec = loaded.spec.services[d.name]
        data["written"] = {**python[base[1]].config, **spec.extras}
        data["profile_dir"] = str(written_in(loaded, ("services", d.name)))
    try:  # (a value that is not plain data; options validated again, whose validator may
        # need more than the config)
        plain: dict[str, Any] = json.loads(json.dumps(data))
        back = compiled.definition(plain, python)
        if dataclasses.replace(back, options=None) != dataclasses.replace(d, options=None):
            return None
        if d.options is None or back.options is None:
            return plain if back.options is d.options else None
        if base[0] == "python":
            same = back.options == d.options
            return (
                plain
                if same and back.options.model_fields_set == d.options.model_fields_set
                else None
            )
        again = type(d.options).model_validate(back.config)
        same = again == d.options and back.options == d.options.model_dump(exclude_none=True)
    except Exception:
        return None
    return plain if same else None


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


def store(proj: Project, loaded: Profile, python: FromModules, asked: dict[str, Any]) -> bool:
    """Write `proj`'s compiled form, if it can be compiled (see compiled.py); whether it was.
    `python`: the modules the load imported, and their `@service` definitions."""
    if not compiled.enabled() or includes(loaded.raw) or loaded.origins is None:
        return False
    if proj.aside:  # (why a service cannot run names the other profiles: files not in the key)
        return False
    found = python.definitions
    forms: dict[str, Any] = {}
    for name, d in proj.graph.definitions.items():
        base = _base(d, found)
        forms[name] = None if base is None else _form(d, base, found, loaded)
        if forms[name] is None:
            return False
    try:
        made = {n: compiled.python_form(d) for n, d in found.items()}
    except Exception:  # (a function without compiled code, a config that is not plain data)
        return False
    files = [*loaded.origins.files, str(proj.root / "conftest.py"), *python.files(proj.root)]
    data = {
        "format": compiled.FORMAT,
        "inputs": asked,
        "files": files,
        "key": compiled.key(asked, files),
        "profile": _profile(loaded),
        "modules": python.names,
        "python": made,
        "definitions": forms,
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
