"""A replaced graph running for the tests that replace a service (see routes.py for how tests
are sent to it): the services that depend on a replaced one, each an instance of its own, in a
stack of this process (like `private_stack`, also under xdist). What they need from outside
that set is handed in by pytest: a replacement fixture's value, a shared service's handle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import _project as projects
from .._define.graph import Graph
from .._define.service import Scope, ServiceDefinition
from .._project import checks
from .._project import replace as replaces
from .fixtures import fixture_for
from .shared import LocalBackend

SCOPES = ("function", "class", "module", "package", "session")


def narrowest(*scopes: str) -> str:
    return min(scopes, key=SCOPES.index)


@dataclass(frozen=True)
class Replacement:
    """What stands for service `name` in some tests: a fixture (its FixtureDef, compared by
    identity) or an URL (from the `stack` mark on node `holder`). `scope`: the narrowest pytest
    scope it lives in (where it is defined, and the fixture's own); `what` names it."""

    name: str
    what: str
    scope: str
    url: str | None = None
    fixture: Any = None
    holder: Any = field(default=None, compare=False, hash=False)


Key = tuple[Replacement, ...]
"""A distinct set of replacements (sorted by name): one Swap per key and mode."""


class Swap:
    """The services of `graph` that depend on a replaced one of `key`, started on demand."""

    def __init__(self, proj: projects.Project, key: Key, state_dir: Path, mode: str | None):
        graph = proj.graph
        self.project = proj
        self.key = key
        self.replaced = {r.name: r for r in key}
        self.real = set(graph.dependents_closure(self.replaced)) - set(self.replaced)
        self.given: dict[str, Any] = {}  # what pytest handed in, by service
        defs: dict[str, ServiceDefinition] = {n: graph[n] for n in self.real}
        for r in key:
            if r.url is not None:
                defs[r.name] = replaces.external(graph[r.name], r.url, r.what)
        for n in self.real:
            for dep in graph.dependencies(n):
                defs.setdefault(dep, self._given(dep))
        self.backend = LocalBackend(proj, state_dir, mode, Graph(defs))

    def _given(self, name: str) -> ServiceDefinition:
        given = self.given

        async def value() -> AsyncIterator[Any]:
            yield given[name]

        return ServiceDefinition(
            name=name,
            function=value,
            params=(),
            scope=Scope.SESSION,
            kind="given",
            source="a value pytest gave",
        )

    def runs(self, name: str) -> bool:
        """Whether `name` runs here (a dependent of a replaced service, or an URL's endpoint)."""
        return name in self.real or (name in self.replaced and self.replaced[name].url is not None)

    def give(self, name: str, value: Any) -> None:
        """What `name` is for this graph now; a new value stops what ran with the old one."""
        if name in self.given and self.given[name] is not value:
            self.backend.local.stop([name])  # its dependents first
        self.given[name] = value

    def close(self) -> None:
        self.backend.close()


def refusal(replaced: set[str], problems: Sequence[Any]) -> str:
    """Why this test's services cannot run with what replaces `replaced` (the problems name
    each template and the attribute it lacks)."""
    lines = "\n".join(f"  {p}" for p in problems)
    names = ", ".join(sorted(replaced))
    return f"this test's services cannot run with what replaces {names}:\n{lines}"


def check(proj: projects.Project, key: Key, request: pytest.FixtureRequest, name: str) -> None:
    """Fail the test before anything of `name` starts when a template of it (or of what it
    runs on) needs an attribute that a replacement fixture's value lacks."""
    fixtures = {r.name: r for r in key if r.fixture is not None}
    below, met = proj.graph.reach(name, set(fixtures))
    if not met:
        return
    values = {n: request.getfixturevalue(n) for n in sorted(met)}
    graph = proj.graph
    names = [n for n in below if set(graph.dependencies(n)) & met]
    what = {n: fixtures[n].what for n in met}
    problems = checks.replaced_templates(proj.full_profile, graph.definitions, names, values, what)
    if problems:
        pytest.fail(refusal(met, problems), pytrace=False)


def variant_fixture(
    swap_for: Any,
    proj: projects.Project,
    key: Key,
    name: str,
    fixture_name: str,
    scope: str,
    deps: Sequence[str],
) -> Any:
    """The fixture that serves service `name` to the tests whose replacements are `key`:
    started in their Swap, with what it depends on asked of pytest first (so pytest tears it
    down first); stopped when `scope` ends. `swap_for(key, mode)` finds (or starts) the Swap."""

    def runs_on(request: pytest.FixtureRequest, stack_mode: str | None) -> LocalBackend:
        check(proj, key, request, name)
        swap: Swap = swap_for(key, stack_mode)
        for dep in deps:  # a variant, a replacement, or a shared service's handle
            value = request.getfixturevalue(dep)
            if not swap.runs(dep):
                swap.give(dep, value)
        return swap.backend

    replaced = ", ".join(r.name for r in key)
    doc = (
        f"stackfixtures service {name!r} for the tests that replace {replaced} "
        f"({scope} scope): an instance of their own."
    )
    return fixture_for(name, fixture_name, scope, doc, runs_on)
