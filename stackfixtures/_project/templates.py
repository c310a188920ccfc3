"""Per-test templates: for each postgres service with a `template`, the task that builds it
(`<server>-template`, kind postgres_template) once the template's `after` tasks completed (it
runs them once more, against the template), with the template's identity in its config; every
`postgres_db` of that server waits for it.

The identity is a digest of each part the template is made of: its options, the schema file's
content, the hook's module source and the `after` tasks' fingerprints (which include their
input files, see inputs.py). A part that changes changes the builder's fingerprint, so the
paths that pick up edited definitions (`stack up` on a running stack, pytest --stack-reuse)
restart it, and it rebuilds the template saying what changed."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from .._config.imports import project_module
from .._define.graph import Graph
from .._define.options import options_of
from .._define.service import ServiceDefinition
from ..errors import DefinitionError
from ..kinds.postgres.options import PostgresConfig, TemplateBuild, TemplateSpec
from ..kinds.postgres.template import builder, postgres_template
from .inputs import digest

KIND = "postgres_template"


def builder_name(server: str) -> str:
    return f"{server}-template"


def _hook_digest(ref: str, root: Path) -> str:
    """The hook's module file, as a digest ("missing" when it cannot be found)."""
    module = ref.partition(":")[0]
    mine = project_module(module, root)
    if mine is not None:  # (not another project's of that name, imported first here)
        return digest(mine)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return "missing"
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return "missing"
    return digest(Path(spec.origin))


def parts(
    spec: TemplateSpec,
    defs: Mapping[str, ServiceDefinition],
    root: Path,
    fingerprint: Callable[[ServiceDefinition, Path], str],
) -> dict[str, str]:
    """What the template is made of, each part named for people, with its digest."""
    options = json.dumps(spec.model_dump(), sort_keys=True).encode()
    found = {"options": hashlib.sha256(options).hexdigest()[:16]}
    for task in spec.after:
        found[f"task {task}"] = fingerprint(defs[task], root)
    if spec.schema_file:
        found[f"schema file {spec.schema_file}"] = digest(root / spec.schema_file)
    if spec.hook:
        found[f"hook {spec.hook}"] = _hook_digest(spec.hook, root)
    return found


def _wrong_after(
    server: str, spec: TemplateSpec, defs: Mapping[str, ServiceDefinition]
) -> dict[int, str]:
    """What is wrong with each entry of `template.after` that names no task, by index."""
    from .._config.suggest import did_you_mean

    wrong = {}
    for i, task in enumerate(spec.after):
        if task not in defs:
            wrong[i] = f"{task!r} is no service" + did_you_mean(
                task, [n for n in defs if n != server]
            )
        elif not defs[task].task:
            wrong[i] = (
                f"{task!r} is not a task (`task = true`): the template is built once the "
                "tasks completed"
            )
    return wrong


Wrong = Callable[[str, int, str], None]
"""Told of a wrong `template.after` entry: (server, index, what is wrong)."""


def refuse(server: str, index: int, why: str) -> None:
    raise DefinitionError(f"service {server!r}: template.after[{index}]: {why}")


def with_templates(
    defs: Mapping[str, ServiceDefinition],
    root: Path,
    fingerprint: Callable[[ServiceDefinition, Path], str],
    wrong: Wrong = refuse,
) -> dict[str, ServiceDefinition]:
    """`defs` plus a template builder per postgres service with a `template`, and each
    `postgres_db` of such a server depending on its builder. A `template.after` entry that
    names no task is told to `wrong` (that server then gets no builder)."""
    out = dict(defs)
    builders: dict[str, str] = {}
    for name, d in defs.items():
        if d.kind != "postgres" or not d.config.get("template"):
            continue
        cfg = options_of(d, PostgresConfig)
        assert cfg.template is not None
        mistakes = _wrong_after(name, cfg.template, defs)
        for i, why in mistakes.items():
            wrong(name, i, why)
        if mistakes:
            continue
        made = parts(cfg.template, defs, root, fingerprint)
        identity = hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()
        build = TemplateBuild(
            server=name,
            template=cfg.template,
            identity=identity,
            parts=made,
        )
        made_by = builder_name(name)
        if made_by in defs and defs[made_by].kind != KIND:
            raise DefinitionError(
                f"service {made_by!r} is the name of the task that builds {name!r}'s template: "
                "rename it"
            )
        tasks = [defs[t] for t in cfg.template.after]
        needs = dict.fromkeys(x for t in tasks for x in (t.name, *t.dependencies))  # their deps:
        needs.pop(name, None)  # the builder hands them their handles (the server's: the template)
        out[made_by] = postgres_template.evolve(
            name=made_by,
            function=builder(tasks),
            kind=KIND,
            inject={"postgres": name},
            extra_deps=tuple(needs),
            config=build.model_dump(),
            config_model=TemplateBuild,
            options=build,
            start_timeout=sum(t.timeout for t in tasks) + d.timeout,
            source=d.source,
        )
        builders[name] = made_by
    for name, d in out.items():
        out[name] = needs_template(d, builders)
    return out


def needs_template(d: ServiceDefinition, builders: Mapping[str, str]) -> ServiceDefinition:
    """A per-test database waits for its server's template (when that has one)."""
    builder = builders.get(d.provider("postgres")) if d.kind == "postgres_db" else None
    if builder is None or builder in d.extra_deps:
        return d
    return d.evolve(extra_deps=(*d.extra_deps, builder))


def builders_of(defs: Mapping[str, ServiceDefinition]) -> dict[str, str]:
    """Server name -> its template builder's name."""
    return {str(d.config["server"]): n for n, d in defs.items() if d.kind == KIND}


def with_builders(selected: list[str], graph: Graph) -> list[str]:
    """`selected` plus the template builders of the postgres servers they start: a started
    server's template is ready (and rebuilt when it changed) before any test asks for it."""
    started = set(graph.closure(selected))
    more = [b for server, b in builders_of(graph.definitions).items() if server in started]
    return [*selected, *(b for b in more if b not in started)]
