"""A project: its root, its profile, the @service definitions it imports, as one checked Graph.

Both front doors (the pytest plugin and the `stack` CLI) load a project the same way.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from .. import kinds
from ..config import load as profiles
from ..config.load import Profile
from ..config.locate import default_state_dir, find_root
from ..config.schema import ServiceSpec
from ..define.graph import Graph
from ..define.policies import LivenessPolicy, RestartPolicy
from ..define.service import Scope, ServiceDefinition
from ..errors import DefinitionError, GraphError, ProfileError, ScopeMismatch, UnknownDependency


@dataclass
class Project:
    root: Path
    profile: Profile | None
    graph: Graph
    selected: list[str]
    state_dir: Path
    parallelism: int
    mode: str | None = None

    @property
    def label(self) -> str:
        return self.profile.name if self.profile else "default"


def _import(name: str, root: Path) -> ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if name.endswith(".py") or "/" in name:
        path = (root / name).resolve()
        mod_name = path.stem
        existing = sys.modules.get(mod_name)
        if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
            return existing
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(name)


def collect(modules: list[ModuleType]) -> dict[str, ServiceDefinition]:
    """Every ServiceDefinition bound at module level, by service name."""
    found: dict[str, ServiceDefinition] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, ServiceDefinition):
                continue
            other = found.get(value.name)
            if other is not None and other.function is not value.function:
                raise DefinitionError(
                    f"two services are named {value.name!r}: {other.source} and {value.source}"
                )
            found[value.name] = value
    return found


def definitions_from_modules(
    names: list[str] | None, root: Path, fresh: bool = False
) -> dict[str, ServiceDefinition]:
    """Definitions from the named modules; `fresh` re-imports them (a running launcher that is
    asked to pick up edited code)."""
    if names is None:
        names = ["conftest.py"] if (root / "conftest.py").is_file() else []
    modules = []
    for name in names:
        try:
            module = _import(name, root)
            modules.append(importlib.reload(module) if fresh else module)
        except ImportError as e:
            raise DefinitionError(f"cannot import service module {name!r}: {e}") from e
    return collect(modules)


def _restart(spec: ServiceSpec) -> RestartPolicy | None:
    return RestartPolicy(**spec.restart.model_dump()) if spec.restart else None


def _liveness(spec: ServiceSpec) -> LivenessPolicy | None:
    live = spec.liveness
    if live is None:
        return None
    return LivenessPolicy(
        probe=live.as_probe_dict(),
        period=live.period,
        timeout=live.timeout or 2.0,
        failure_threshold=live.failure_threshold,
    )


def _stop_overrides(spec: ServiceSpec) -> dict[str, Any]:
    """Only the stop fields the profile wrote: they refine the service's own policy."""
    if spec.stop is None:
        return {}
    return {k: getattr(spec.stop, k) for k in spec.stop.model_fields_set}


def _base_for(
    profile: Profile, name: str, spec: ServiceSpec, python: dict[str, ServiceDefinition]
) -> tuple[ServiceDefinition, str | None, Any]:
    """The definition a profile entry builds on, the kind name it runs as, and the model that
    validates its kind-specific keys (the kind's options, or the Python service's own)."""
    key = f"services.{name}"
    if "external" in spec.extras:  # any kind, pointed at a server that already runs
        kind = _kind(profile, key, "external")
        assert kind is not None
        return kind.service, kind.name, kind.options
    if spec.kind is not None:
        kind = _kind(profile, f"{key}.kind", spec.kind)
        if kind is not None:
            return kind.service, kind.name, kind.options
        if spec.kind in python:
            d = python[spec.kind]
            return d, spec.kind, d.config_model
        avail = sorted({*kinds.names(), *python})
        raise profile.error(
            f"{key}.kind", f"unknown kind {spec.kind!r} (available: {', '.join(avail)})"
        )
    if "command" in spec.extras:
        kind = _kind(profile, key, "command")
        assert kind is not None
        return kind.service, kind.name, kind.options
    if name in python:
        return python[name], python[name].kind, python[name].config_model
    raise profile.error(
        key,
        "has no `kind`, no `command`, and no @service of that name is "
        "defined in the stack's modules",
    )


def _kind(profile: Profile, key: str, name: str) -> kinds.Kind | None:
    """The kind called `name`; a third-party kind that cannot be loaded is an error at `key`."""
    try:
        return kinds.get(name)
    except DefinitionError as e:
        raise profile.error(key, str(e)) from None


def _config(
    profile: Profile, name: str, base: ServiceDefinition, model: Any, spec: ServiceSpec
) -> dict[str, Any]:
    """The kind-specific keys of a profile entry, validated by the kind's options model."""
    extras = spec.extras
    if "external" in extras:
        url = extras.pop("external")
        if not isinstance(url, str):
            raise profile.error(f"services.{name}.external", "must be a URL string")
        if extras:  # the kind's own settings no longer apply; say so rather than ignore them
            first = sorted(extras)[0]
            raise profile.error(f"services.{name}.{first}", "does not apply to an external service")
        extras = {"url": url}
    if model is None:
        if extras:
            first = sorted(extras)[0]
            raise profile.error(f"services.{name}.{first}", "unknown key")
        return dict(base.config)
    try:
        validated = model.model_validate({**base.config, **extras})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        unknown = err["type"] == "extra_forbidden"
        msg = "unknown key" if unknown else err["msg"].removeprefix("Value error, ")
        raise profile.error(f"services.{name}.{loc}", msg) from None
    return dict(validated.model_dump(exclude_none=True))


def apply_profile(
    profile: Profile, python: dict[str, ServiceDefinition]
) -> dict[str, ServiceDefinition]:
    """Definitions after the profile: declared services added, Python ones configured."""
    defs = dict(python)
    stack_timeout = profile.spec.stack.start_timeout
    for name, spec in profile.spec.services.items():
        base, kind, model = _base_for(profile, name, spec, python)
        config = _config(profile, name, base, model, spec)
        for param in spec.inject:
            if param not in base.params:
                params = ", ".join(base.params) or "none"
                raise profile.error(
                    f"services.{name}.inject.{param}",
                    f"not a dependency parameter of this service (it has: {params})",
                )
        defs[name] = base.evolve(
            name=name,
            extra_deps=tuple(dict.fromkeys((*base.extra_deps, *spec.dependency_names))),
            edges={**base.edges, **spec.edges},
            restart=_restart(spec) or base.restart,
            liveness=_liveness(spec) or base.liveness,
            config=config,
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
        )
    for name, d in defs.items():
        if d.start_timeout is None:
            defs[name] = d.evolve(start_timeout=stack_timeout)
        if name in profile.spec.services:
            deps = set(defs[name].dependencies)
            spec = profile.spec.services[name]
            profiles.check_wiring(profile, name, deps, spec.env, f"services.{name}.env")
            profiles.check_wiring(profile, name, deps, spec.extras, f"services.{name}")
    return defs


def _graph_error_key(e: GraphError) -> str:
    if isinstance(e, UnknownDependency):
        return f"services.{e.service}.depends_on"
    if isinstance(e, ScopeMismatch):
        return f"services.{e.service}.scope"
    return "services"


def _env_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def load(
    profile: str | Path | None = None,
    root: Path | None = None,
    state_dir: Path | None = None,
    fresh: bool = False,
) -> Project:
    """Find the root, read the profile, import definitions, and check the graph."""
    root = (root or find_root()).resolve()
    loaded = profiles.load(profile, root) if profile is not None else None
    modules = loaded.spec.stack.modules if loaded else None
    python = definitions_from_modules(modules, root, fresh)
    defs = apply_profile(loaded, python) if loaded else python
    try:
        graph = Graph(defs)
    except GraphError as e:
        if loaded is None:
            raise
        raise ProfileError(str(loaded.path), _graph_error_key(e), str(e)) from e
    selected = list(loaded.spec.stack.services or []) if loaded else []
    for i, name in enumerate(selected):
        if name not in graph:
            assert loaded is not None
            raise loaded.error(
                f"stack.services[{i}]",
                f"unknown service {name!r} (defined: {', '.join(graph.names) or 'none'})",
            )
    if state_dir is None:
        configured = loaded.spec.stack.state_dir if loaded else None
        state_dir = default_state_dir(root, loaded.name if loaded else "default", configured)
    return Project(
        root=root,
        profile=loaded,
        graph=graph,
        selected=selected or graph.names,
        state_dir=state_dir,
        parallelism=loaded.spec.stack.parallelism if loaded else 4,
        mode=loaded.spec.stack.mode if loaded else None,
    )


def fingerprint(definition: ServiceDefinition) -> str:
    """What a service is: its code and every setting that shapes it. Two runs whose services
    fingerprint alike can share a running instance (pytest --stack-reuse)."""
    try:
        code = inspect.getsource(definition.function)
    except (OSError, TypeError):
        code = definition.function.__code__.co_code.hex()
    parts = [
        code,
        definition.kind,
        sorted(definition.dependencies),
        dict(definition.config),
        dict(definition.env),
        str(definition.scope),
        dict(definition.stop_overrides),
        repr(definition.restart),
        repr(definition.liveness),
        dict(definition.edges),
        dict(definition.inject),
        definition.replicas,
        definition.start_timeout,
        definition.port,
        definition.task,
    ]
    return hashlib.sha256(json.dumps(parts, default=repr, sort_keys=True).encode()).hexdigest()[:16]


def fingerprints(graph: Graph) -> dict[str, str]:
    return {name: fingerprint(d) for name, d in graph.definitions.items()}
