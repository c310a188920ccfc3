"""The dependency graph: validation, closures, start levels and stop order. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from ..errors import DependencyCycle, ScopeMismatch, UnknownDependency
from .service import ServiceDefinition


def walk(
    starts: Iterable[str], step: Callable[[str], Iterable[str]], leaves: Collection[str] = ()
) -> tuple[set[str], set[str]]:
    """The one walk of a dependency graph: `starts` and all that `step` leads to from them
    (a service's dependencies, or its dependents), transitively, never past one of `leaves`.
    Returns what it reached (leaves left out) and the leaves it met on the way."""
    seen: set[str] = set()
    met: set[str] = set()
    todo = list(starts)
    while todo:
        n = todo.pop()
        if n in leaves:
            met.add(n)
        elif n not in seen:
            seen.add(n)
            todo.extend(step(n))
    return seen, met


class Graph:
    """A validated set of service definitions keyed by name.

    Construction rejects unknown dependencies, cycles (reported as the cycle path) and a
    wider-scoped service depending on a narrower one, before anything can start.
    """

    def __init__(self, definitions: Mapping[str, ServiceDefinition]) -> None:
        self.definitions: dict[str, ServiceDefinition] = dict(definitions)
        self._check_known()
        self._check_cycles()
        self._check_scopes()

    def __contains__(self, name: object) -> bool:
        return name in self.definitions

    def __getitem__(self, name: str) -> ServiceDefinition:
        return self.definitions[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.definitions)

    def __len__(self) -> int:
        return len(self.definitions)

    @property
    def names(self) -> list[str]:
        return list(self.definitions)

    def dependencies(self, name: str) -> tuple[str, ...]:
        return self.definitions[name].dependencies

    def dependents(self, name: str) -> list[str]:
        """Services that name `name` directly as a dependency."""
        return [n for n, d in self.definitions.items() if name in d.dependencies]

    def closure(self, names: Iterable[str]) -> list[str]:
        """`names` and everything they depend on, transitively, in a valid start order."""
        names = list(names)
        for name in names:
            if name not in self.definitions:
                raise UnknownDependency("<selection>", name, self.names)
        wanted, _ = walk(names, self.dependencies)
        return [n for n in self.start_order() if n in wanted]

    def dependents_closure(self, names: Iterable[str]) -> list[str]:
        """`names` and everything that depends on them, transitively, in a valid stop order."""
        wanted, _ = walk(names, self.dependents)
        return [n for n in reversed(self.start_order()) if n in wanted]

    def reach(self, name: str, leaves: Collection[str]) -> tuple[list[str], set[str]]:
        """What `name` runs on when the `leaves` (replaced services) end the walk: the services
        in start order (itself included, leaves not), and the leaves it meets."""
        seen, met = walk([name], self.dependencies, leaves)
        return [n for n in self.start_order() if n in seen], met

    def levels(self, names: Iterable[str] | None = None) -> list[list[str]]:
        """Groups that can start in parallel: each level depends only on earlier levels."""
        subset = set(self.definitions if names is None else names)
        depth: dict[str, int] = {}
        for n in self.start_order():
            if n in subset:
                deps = [depth[d] for d in self.definitions[n].dependencies if d in depth]
                depth[n] = 1 + max(deps, default=-1)
        out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
        for n, lvl in depth.items():
            out[lvl].append(n)
        return out

    def start_order(self) -> list[str]:
        """A topological order: every service after all of its dependencies (stable)."""
        order: list[str] = []
        done: set[str] = set()

        def visit(n: str) -> None:
            if n in done:
                return
            done.add(n)
            for d in self.definitions[n].dependencies:
                visit(d)
            order.append(n)

        for n in self.definitions:
            visit(n)
        return order

    def _check_known(self) -> None:
        for name, d in self.definitions.items():
            for dep in d.dependencies:
                if dep not in self.definitions:
                    raise UnknownDependency(name, dep, self.names)

    def _check_cycles(self) -> None:
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self.definitions, white)
        path: list[str] = []

        def visit(n: str) -> None:
            colour[n] = grey
            path.append(n)
            for dep in self.definitions[n].dependencies:
                if colour[dep] == grey:
                    raise DependencyCycle([*path[path.index(dep) :], dep])
                if colour[dep] == white:
                    visit(dep)
            path.pop()
            colour[n] = black

        for n in self.definitions:
            if colour[n] == white:
                visit(n)

    def _check_scopes(self) -> None:
        for name, d in self.definitions.items():
            for dep in d.dependencies:
                dd = self.definitions[dep]
                if dd.scope < d.scope:
                    raise ScopeMismatch(name, str(d.scope), dep, str(dd.scope))
