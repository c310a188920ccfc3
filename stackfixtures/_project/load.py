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
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .._config.locate import default_state_dir, find_root
from .._define.graph import Graph
from .._define.service import DEFAULT_PARALLELISM, ServiceDefinition
from ..errors import DefinitionError, StackError
from . import compiled
from .inputs import task_inputs
from .project import Project as Project

if TYPE_CHECKING:  # (the full path imports them: a compiled profile's start does not)
    from .._config.load import Profile


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


def _import_failure(name: str, e: BaseException, root: Path) -> str:
    """Why a service module could not be imported, with where in the user's code."""
    from .._engine.usercode import user_frames

    text = f"cannot import service module {name!r}: {type(e).__name__}: {e}"
    if isinstance(e, SyntaxError) and e.filename:
        return text  # its message names the file and line already
    frames = user_frames(e, root)
    return text + "".join(f"\n  at {f}" for f in frames[-3:])


def definitions_from_modules(
    names: list[str] | None,
    root: Path,
    fresh: bool = False,
    failed: Callable[[int, str], None] | None = None,
) -> dict[str, ServiceDefinition]:
    """Definitions from the named modules; `fresh` re-imports them (a running launcher that is
    asked to pick up edited code). A module that cannot be imported raises DefinitionError,
    or with `failed` is reported to it (its index, why) and skipped."""
    if names is None:
        names = ["conftest.py"] if (root / "conftest.py").is_file() else []
    modules = []
    for i, name in enumerate(names):
        try:
            module = _import(name, root)
            modules.append(importlib.reload(module) if fresh else module)
        except Exception as e:  # the user's code: any mistake in it, said where it is
            if failed is None:
                raise DefinitionError(_import_failure(name, e, root)) from None
            failed(i, _import_failure(name, e, root))
    return collect(modules)


def load(
    profile: str | Path | None = None,
    root: Path | None = None,
    state_dir: Path | None = None,
    fresh: bool = False,
    services: list[str] | None = None,
    cache: bool = False,
) -> Project:
    """Find the root, read the profile, import definitions, and check everything that can be
    checked before a start: every mistake at once, each in the file that holds it.

    `services`: what will be started (default: the profile's `stack.services`, else all); a
    Python service outside their closure that cannot run is set aside (`Project.aside`).
    `cache`: a start's load, which may take the profile's compiled form when none of its
    inputs changed, and compiles it after it validated (compiled.py); never for `validate`.
    """
    root = (root or find_root()).resolve()
    if not cache or profile is None or fresh:
        return _load(profile, root, state_dir, fresh, services)[0]
    asked = compiled.inputs(root, profile, services)
    parts = compiled.project_parts(found) if (found := compiled.lookup(asked)) else None
    if found is not None and parts is not None:
        where = state_dir or Path(found["state_dir"])
        proj = Project(root=root, state_dir=where, **parts)
        compiled.trace("hit")
        return proj
    proj, loaded, imported = _load(profile, root, state_dir, fresh, services)
    from .compiling import store

    try:
        stored = store(proj, loaded, imported, asked) if loaded is not None else False
    except (OSError, StackError):  # (a cache dir that is not ours: no cache, never an error)
        stored = False
    compiled.trace("miss", stored=stored)
    return proj


def _load(
    profile: str | Path | None,
    root: Path,
    state_dir: Path | None,
    fresh: bool,
    services: list[str] | None,
) -> tuple[Project, Profile | None, bool]:
    """The full path: the project, its validated profile, whether Python modules were
    imported."""
    from .._config import load as profiles
    from .._config.suggest import unknown_service
    from ..errors import ProfileError, ServiceDefinitionError
    from . import checks, events
    from .apply_profile import apply_profile
    from .templates import with_builders, with_templates

    loaded = profiles.validate_profile(profile, root, strict=False) if profile is not None else None
    modules = loaded.spec.stack.modules if loaded else None
    failed = None
    if loaded is not None and modules is not None:
        profile_ = loaded

        def failed(i: int, why: str) -> None:
            profile_.add(("stack", "modules", i), why)

    python = definitions_from_modules(modules, root, fresh, failed)
    imported = (
        bool(python) or bool(modules) or (modules is None and (root / "conftest.py").is_file())
    )
    defs = apply_profile(loaded, python) if loaded else python
    defs = with_templates(defs, root, fingerprint, _after_problems(loaded))
    chosen = list(loaded.spec.stack.services or []) if loaded else []
    selected = list(services or chosen or defs)
    code, aside = checks.dependencies(defs, loaded, root, selected)
    code += checks.names(defs, loaded, root)
    checks.set_aside(defs, aside)
    graph, more = checks.graph(defs, loaded, root)
    code += more
    if loaded is not None:
        checks.all_templates(loaded, defs)
        events.check(loaded, defs)
        for i, name in enumerate(chosen):
            if name not in defs and name not in aside:
                loaded.add(("stack", "services", i), str(unknown_service(name, defs)))
        if loaded.problems:
            raise ProfileError.of([*loaded.problems, *code])
    if code:
        raise ServiceDefinitionError(code)
    assert graph is not None
    if state_dir is None:
        configured = loaded.spec.stack.state_dir if loaded else None
        state_dir = default_state_dir(root, loaded.name if loaded else "default", configured)
    proj = Project(
        root=root,
        profile=loaded,
        graph=graph,
        selected=with_builders([n for n in chosen if n in graph] or graph.names, graph),
        state_dir=state_dir,
        parallelism=loaded.spec.stack.parallelism if loaded else DEFAULT_PARALLELISM,
        mode=loaded.spec.stack.mode if loaded else None,
        events=events.target(loaded),
        aside=aside,
    )
    return proj, loaded, imported


def _after_problems(loaded: Profile | None) -> Callable[[str, int, str], None]:
    """A wrong `template.after` entry: a problem of the profile, where it is written."""

    from .templates import refuse

    def wrong(server: str, index: int, why: str) -> None:
        if loaded is None or server not in loaded.spec.services:
            refuse(server, index, why)
        else:
            loaded.add(("services", server, "template", "after", index), why)

    return wrong


def fingerprint(definition: ServiceDefinition, root: Path | None) -> str:
    """What a service is: its code and every setting that shapes it, and for a task the
    content of its input files under `root` (inputs.py). Two runs whose services fingerprint
    alike can share a running instance (pytest --stack-reuse)."""
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
        task_inputs(definition, root),
    ]
    return hashlib.sha256(json.dumps(parts, default=repr, sort_keys=True).encode()).hexdigest()[:16]


def fingerprints(graph: Graph, root: Path | None) -> dict[str, str]:
    return {name: fingerprint(d, root) for name, d in graph.definitions.items()}
