"""A project: its root, its profile, the @service definitions it imports, as one checked Graph.

Both front doors (the pytest plugin and the `stack` CLI) load a project the same way.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._config.locate import default_state_dir, find_root
from .._define.graph import Graph
from .._define.service import DEFAULT_PARALLELISM, ServiceDefinition
from ..errors import StackError
from . import compiled
from .inputs import task_inputs
from .modules import FromModules, definitions_from_modules
from .project import Project as Project

if TYPE_CHECKING:  # (the full path imports them: a compiled profile's start does not)
    from .._config.load import Profile


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
    parts = compiled.project_parts(found, root) if (found := compiled.lookup(asked)) else None
    if found is not None and parts is not None:
        where = state_dir or Path(found["state_dir"])
        proj = Project(root=root, state_dir=where, **parts)
        compiled.trace("hit")
        return proj
    proj, loaded, python = _load(profile, root, state_dir, fresh, services)
    from .compiling import store

    try:
        stored = store(proj, loaded, python, asked) if loaded is not None else False
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
) -> tuple[Project, Profile | None, FromModules]:
    """The full path: the project, its validated profile, and the modules it imported with
    the `@service` definitions found in them."""
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

    if modules is None:
        modules = ["conftest.py"] if (root / "conftest.py").is_file() else []
    python = definitions_from_modules(modules, root, fresh, failed)
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
    return proj, loaded, FromModules(list(modules), python)


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
