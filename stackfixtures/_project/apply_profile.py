"""A profile applied to the @service definitions: the services it declares added, the Python
ones configured, each service's kind-specific keys validated by its kind's options model.

Mistakes are noted on the profile (`Profile.add`) rather than raised, so that every one of
them is reported at once; a service too broken to build is replaced by a stub that never runs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import kinds
from .._config.explain import explain
from .._config.load import Profile
from .._config.schema import ServiceSpec
from .._config.suggest import closest, did_you_mean
from .._define.options import model_of
from .._define.policies import LogLimit
from .._define.service import Scope, ServiceDefinition
from ..errors import DefinitionError
from . import probe_tables

GENERIC = tuple(ServiceSpec.model_fields)
"""Keys every service takes, whatever its kind."""
STARTERS = ("kind", "command", "external")
"""The keys that say what a profile entry runs."""


async def _never_runs() -> AsyncIterator[Any]:  # pragma: no cover - a stub's body
    yield None


def stub(name: str) -> ServiceDefinition:
    """A placeholder for a service whose entry is too broken to build: it keeps the names
    right for the other checks, and the load fails before anything could start it."""
    return ServiceDefinition(name=name, function=_never_runs, params=(), kind="invalid")


def _stop_overrides(spec: ServiceSpec) -> dict[str, Any]:
    """Only the stop fields the profile wrote: they refine the service's own policy."""
    return spec.stop.written() if spec.stop is not None else {}


def _kind(profile: Profile, key: tuple[str, ...], name: str) -> kinds.Kind | None:
    """The kind called `name`; a third-party kind that cannot be loaded is noted at `key`."""
    try:
        return kinds.get(name)
    except DefinitionError as e:
        profile.add(key, str(e))
        return None


Base = tuple[ServiceDefinition, str | None, Any]
"""The definition a profile entry builds on, the kind it runs as, and its options model."""


def _base_for(
    profile: Profile, name: str, spec: ServiceSpec, python: dict[str, ServiceDefinition]
) -> Base | None:
    """What a profile entry builds on; None (with the problem noted) when it cannot tell."""
    key = ("services", name)
    extras = spec.extras
    if "external" in extras:  # any kind, pointed at a server that already runs
        kind = _kind(profile, key, "external")
        return (kind.service, kind.name, kind.options) if kind else None
    if spec.kind is not None:
        if spec.kind in python and spec.kind not in kinds.names():
            d = python[spec.kind]
            return d, spec.kind, model_of(d.config_model)
        kind = _kind(profile, (*key, "kind"), spec.kind)
        if kind is not None:
            return kind.service, kind.name, kind.options
        if spec.kind in kinds.names():
            return None  # a kind that cannot be loaded: noted already
        avail = sorted({*kinds.names(), *python})
        hint = did_you_mean(spec.kind, avail)
        profile.add(
            (*key, "kind"), f"unknown kind {spec.kind!r} (available: {', '.join(avail)}){hint}"
        )
        return None
    if "command" in extras:
        kind = _kind(profile, key, "command")
        return (kind.service, kind.name, kind.options) if kind else None
    if name in python:
        return python[name], python[name].kind, model_of(python[name].config_model)
    misspelt = [k for k in extras if closest(k, STARTERS)]
    for k in misspelt:
        profile.add((*key, k), "unknown key" + did_you_mean(k, STARTERS))
    if not misspelt:
        near = closest(name, python)
        hint = f"; did you mean @service {near!r}?" if near else ""
        profile.add(
            key,
            "has no `kind`, no `command`, and no @service of that name is defined in the "
            f"stack's modules{hint}",
        )
    return None


Options = tuple[dict[str, Any], Any]
"""A service's kind-specific keys as a dict (for fingerprints, exports, masking) and the
validated options object its kind reads (`kind_api.options_of`), or None without a model."""


def _config(
    profile: Profile, name: str, base: ServiceDefinition, model: Any, spec: ServiceSpec
) -> Options | None:
    """The kind-specific keys of a profile entry, validated once by the kind's options model
    (None when they are wrong; the problems are noted)."""
    key = ("services", name)
    extras = spec.extras
    if "external" in extras:
        url = extras.pop("external")
        if not isinstance(url, str) or not url.strip():
            profile.add((*key, "external"), "must be a URL string")
            return None
        for other in sorted(extras):  # the kind's own settings no longer apply: say so
            profile.add((*key, other), "does not apply to an external service")
        if extras:
            return None
        extras = {"url": url}
    if model is None:
        for other in sorted(extras):
            profile.add((*key, other), "unknown key" + did_you_mean(other, GENERIC))
        return None if extras else (dict(base.config), base.options)
    data = {**base.config, **extras}
    try:
        validated = model.model_validate(data, context={"profile_dir": written_in(profile, key)})
    except ValidationError as e:
        found = explain(e.errors(), data, model, top=GENERIC)
        for rel, message in found:
            profile.add((*key, *rel), message)
        return None
    return dict(validated.model_dump(exclude_none=True)), validated


def written_in(profile: Profile, key: tuple[str, ...]) -> Path:
    """The directory of the file that wrote the entry `key` (an extended profile's, an
    included file's): what a kind's relative host paths are relative to."""
    file = profile.origins.find(key)[0] if profile.origins is not None else str(profile.path)
    return Path(os.path.abspath(file)).parent


def apply_profile(
    profile: Profile, python: dict[str, ServiceDefinition]
) -> dict[str, ServiceDefinition]:
    """Definitions after the profile: declared services added, Python ones configured."""
    defs = dict(python)
    for name, spec in profile.spec.services.items():
        found = None if name in profile.invalid else _base_for(profile, name, spec, python)
        if found is None:
            profile.invalid.add(name)
            defs[name] = stub(name)
            continue
        base, kind, model = found
        config, options = _config(profile, name, base, model, spec) or (dict(base.config), None)
        probe_tables.check(profile, name, spec)
        for param in spec.inject:
            if param not in base.params:
                params = ", ".join(base.params) or "none"
                hint = did_you_mean(param, base.params)
                profile.add(
                    ("services", name, "inject", param),
                    f"not a dependency parameter of this service (it has: {params}){hint}",
                )
        defs[name] = base.evolve(
            name=name,
            extra_deps=tuple(dict.fromkeys((*base.extra_deps, *spec.dependency_names))),
            edges={**base.edges, **spec.edges},
            restart=spec.restart.to_policy() if spec.restart else base.restart,
            liveness=spec.liveness.to_policy() if spec.liveness else base.liveness,
            config=config,
            options=options,
            env={**base.env, **{k: _env_text(v) for k, v in spec.env.items()}},
            stop_overrides={**base.stop_overrides, **_stop_overrides(spec)},
            inject={**base.inject, **spec.inject},
            replicas=spec.replicas or base.replicas,
            export=spec.export.model_dump(exclude_none=True) if spec.export else base.export,
            replicas_allowed=base.replicas_allowed or spec.replicas is not None,
            scope=Scope.parse(spec.scope) if spec.scope else base.scope,
            start_timeout=spec.start_timeout or base.start_timeout,
            port=spec.port or base.port,
            task=base.task if spec.task is None else spec.task,
            kind=kind,
            watch=tuple(spec.watch) or base.watch,
            watch_ignore=tuple(spec.ignore) or base.watch_ignore,
            logs=_logs(spec) or base.logs,
        )
    stack_timeout = profile.spec.stack.start_timeout
    stack_logs = _logs(profile.spec.stack)
    for name, d in defs.items():
        if d.start_timeout is None:
            d = defs[name] = d.evolve(start_timeout=stack_timeout)
        if d.logs is None:
            defs[name] = d.evolve(logs=stack_logs)
    return defs


def _logs(spec: Any) -> LogLimit | None:
    """The `logs` table of a service or of [stack], if it has one."""
    return None if spec.logs is None else spec.logs.to_limit()


def _env_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)
