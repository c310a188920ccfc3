"""Replacing a service for the tests that ask for it, in pytest's own terms.

Two gestures: a fixture named like a service, closer to the test than the plugin's (in a test
module, a class or a conftest), whose value stands for that service; and
`@pytest.mark.stack(replace={NAME: URL})`, an endpoint that already runs (probed by its URL's
scheme, like `external`). A test that sees a replacement gets, for every service it uses that
depends on a replaced one, an instance of its own started with the replacement (swap.py), and
the real service is not started for it. Other tests keep the shared graph.

How pytest is made to serve it: pytest caches a fixture's value on its FixtureDef for the
fixture's scope, whatever the fixtures it asked for returned, so the plugin's `web` cannot
serve two graphs. Each distinct set of replacements gets fixtures of its own (`web@swap1`,
registered from a holder plugin, scoped no wider than its replacements live), and at
collection each test that sees replacements has its closure pointed at them:
`item._fixtureinfo.name2fixturedefs[name]` (and, before pytest 9, the copy of it its request
holds) ends with the variant. That mapping is where pytest looks first for the test's arguments
and for `request.getfixturevalue` (the plugin's fixtures ask for their dependencies that way),
so the variant is what this test, and only it, gets. Which fixture is the plugin's is told by a
mark on its function (fixtures.SERVICE); one that asks for its own name wraps the service
rather than replacing it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import _project as projects
from .._project import checks
from .._project import replace as replaces
from .fixtures import SERVICE
from .swap import Key, Replacement, Swap, narrowest, refusal, variant_fixture

FAILURE = pytest.StashKey[str]()
ROUTE = pytest.StashKey["Route"]()
MARK_HELP = (
    "stack(replace={NAME: URL}): run this test's services that depend on NAME against the "
    "endpoint at URL (probed by its scheme, never started or stopped) instead of NAME"
)


class UnusedReplacement(pytest.PytestWarning):
    """A replacement that no test which sees it uses: it changes nothing."""


@dataclass
class Route:
    """Where a test's services come from: `variants` (service -> its fixture's name) run in
    the Swap of `key`."""

    key: Key
    variants: dict[str, str] = field(default_factory=dict)


@functools.cache
def _by_nodeid(getfixturedefs: Callable[..., Any]) -> bool:
    return "nodeid" in inspect.signature(getfixturedefs).parameters


def _defs(item: pytest.Item, name: str) -> Any:
    """The fixtures called `name` that `item` sees, furthest first (pytest 8.0 looks them up
    by node id, later ones by node)."""
    fm = item.session._fixturemanager
    where: Any = item.nodeid if _by_nodeid(type(fm).getfixturedefs) else item
    return fm.getfixturedefs(name, where)


def _node_scope(node: Any) -> str:
    if isinstance(node, pytest.Class):
        return "class"
    if isinstance(node, pytest.Module):
        return "module"
    return "function" if isinstance(node, pytest.Item) else "session"


def _where(func: Any, root: Path) -> tuple[str, int]:
    """The file (relative to `root`) and line of a fixture function."""
    try:
        file = Path(inspect.getsourcefile(func) or "?")
        line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return getattr(func, "__qualname__", "?"), 0
    with contextlib.suppress(ValueError):
        file = file.resolve().relative_to(root)
    return str(file), line


class Swaps:
    """Every replacement of a pytest session: tests routed at collection, Swaps run on demand."""

    def __init__(
        self, config: pytest.Config, proj: projects.Project, base: Callable[[], Path]
    ) -> None:
        self.config = config
        self.project = proj
        self.base = base  # the session's basetemp (Swaps keep their state under it)
        self.keys: dict[Key, int] = {}
        self.fixtures: dict[tuple[Key, str], str] = {}  # (key, service) -> variant's name
        self.running: dict[tuple[Key, str | None], Swap] = {}
        self._visible: dict[Any, dict[str, Replacement]] = {}  # per parent node
        self._used: dict[Replacement, bool] = {}  # whether a test that sees it uses it
        self._holders = 0

    # -- collection ---------------------------------------------------------------------------

    def visible(self, item: pytest.Item) -> dict[str, Replacement]:
        """The services a fixture replaces for `item`: the closest fixture of that name is not
        the plugin's, and does not ask for the service itself (that one wraps it)."""
        parent = item.parent
        if parent in self._visible:
            return self._visible[parent]
        found: dict[str, Replacement] = {}
        for name in self.project.graph.names:
            defs = _defs(item, name)
            if not defs or getattr(defs[-1].func, SERVICE, None) or name in defs[-1].argnames:
                continue
            d = defs[-1]
            at = [n for n in item.listchain() if n.nodeid == d.baseid]
            file, line = _where(d.func, self.config.rootpath)
            found[name] = Replacement(
                name,
                f"fixture {name!r} ({file}:{line})",
                narrowest(d.scope, _node_scope(at[-1] if at else None)),
                fixture=d,
            )
        self._visible[parent] = found
        return found

    def marked(self, item: pytest.Item) -> tuple[dict[str, Replacement], str | None]:
        """The `stack(replace=...)` marks on `item` (the closest wins), or why they are wrong."""
        found: dict[str, Replacement] = {}
        graph = self.project.graph
        for node, mark in item.iter_markers_with_node("stack"):
            pairs = mark.kwargs.get("replace", {})
            if mark.args or set(mark.kwargs) - {"replace"} or not isinstance(pairs, dict):
                return {}, f"the stack mark of {node.nodeid} takes replace={{NAME: URL}} only"
            for name, url in pairs.items():
                where = f"stack(replace={{{name!r}: {url!r}}}) on {node.nodeid}"
                if not isinstance(url, str):
                    return {}, (
                        f"{where}: the value is an URL; to replace {name!r} with an object, "
                        f"define a fixture named {name!r}"
                    )
                problem = replaces.unknown(str(name), graph.names) or replaces.url_problem(url)
                if problem is not None:
                    return {}, f"{where}: {problem}"
                what = f"the replacement of {name!r} ({url}, from the stack mark of {node.nodeid})"
                found.setdefault(name, Replacement(name, what, _node_scope(node), url, None, node))
        return found, None

    def route(self, item: pytest.Item) -> Route | None:
        """Which services `item` gets from a Swap (noting which replacements it uses)."""
        marks, error = self.marked(item)
        if error is not None:
            item.stash[FAILURE] = error
            return None
        replaced = {**self.visible(item), **marks}
        if not replaced:
            return None
        graph = self.project.graph
        names = item._fixtureinfo.names_closure  # type: ignore[attr-defined]
        seen: set[str] = set()
        for name in (n for n in names if n in graph):
            below, met = graph.reach(name, set(replaced))
            seen |= {*below, *met}
        for r in replaced.values():
            self._used[r] = self._used.get(r, False) or r.name in seen
        affected = {n for n in seen if n not in replaced and graph.reach(n, set(replaced))[1]}
        wanted = affected | {n for n in seen if n in marks}
        if not wanted:
            return None
        key = tuple(sorted(replaced.values(), key=lambda r: r.name))
        failure = self._check_marks(marks, affected)
        if failure:
            item.stash[FAILURE] = failure
            return None
        route = Route(key, {n: self._variant(key, n) for n in sorted(wanted)})
        item.stash[ROUTE] = route
        return route

    def _check_marks(self, marks: dict[str, Replacement], affected: set[str]) -> str:
        """A template of the test's services that an URL replacement cannot fill, if any."""
        from ..kinds.external import handle_for

        graph = self.project.graph
        names = [n for n in affected if set(graph.dependencies(n)) & set(marks)]
        handles = {n: handle_for(r.url or "") for n, r in marks.items()}
        what = {n: r.what for n, r in marks.items()}
        problems = checks.replaced_templates(
            self.project.full_profile, graph.definitions, names, handles, what
        )
        return refusal(set(marks), problems) if problems else ""

    def _variant(self, key: Key, name: str) -> str:
        if (key, name) not in self.fixtures:
            number = self.keys.setdefault(key, len(self.keys) + 1)
            self.fixtures[key, name] = f"{name}@swap{number}"
        return self.fixtures[key, name]

    @pytest.hookimpl(trylast=True)  # after -k/-m deselection
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        known = set(self.fixtures.values())
        routes = [(i, r) for i in items if isinstance(i, pytest.Function) if (r := self.route(i))]
        self._register({k: v for k, v in self.fixtures.items() if v not in known})
        for item, route in routes:
            closure = item._fixtureinfo.name2fixturedefs  # type: ignore[attr-defined]
            # pytest < 9 gives the item's request a copy of it, made when the item was
            request = getattr(getattr(item, "_request", None), "_arg2fixturedefs", closure)
            for name, fixture_name in route.variants.items():
                variant = _defs(item, fixture_name)[-1]
                ours = closure.get(name) or _defs(item, name) or ()
                closure[name] = request[name] = (*ours, variant)
        self._warn_unused()

    def _register(self, new: dict[tuple[Key, str], str]) -> None:
        """Make the new variants pytest fixtures (visible everywhere, used only where routed)."""
        if not new:
            return
        graph = self.project.graph
        self._holders += 1
        holder = types.ModuleType(f"stackfixtures_swaps_{self._holders}")
        for i, ((key, name), fixture_name) in enumerate(new.items()):
            replaced = {r.name: r for r in key}
            deps: tuple[str, ...] = ()  # an URL's endpoint needs nothing
            met = {name}
            if name not in replaced:  # it lives no longer than what it runs on
                deps, met = graph.dependencies(name), graph.reach(name, set(replaced))[1]
            scope = narrowest(str(graph[name].scope), *(replaced[n].scope for n in met))
            fixture = variant_fixture(self.swap, self.project, key, name, fixture_name, scope, deps)
            setattr(holder, f"variant_{i}", fixture)
        self.config.pluginmanager.register(holder, f"stackfixtures-swaps-{self._holders}")

    def _warn_unused(self) -> None:
        for r, used in self._used.items():
            if used:
                continue
            message = (
                f"{r.what} replaces service {r.name!r}, but no test that sees it uses "
                f"{r.name!r} or a service that depends on it: it changes nothing"
            )
            if r.fixture is not None:
                file, line = _where(r.fixture.func, self.config.rootpath)
                path = str(self.config.rootpath / file)
                warnings.warn_explicit(UnusedReplacement(message), None, path, line)
            else:
                r.holder.warn(UnusedReplacement(message))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A test whose replacements are wrong errors before anything starts for it."""
        failure = item.stash.get(FAILURE, None)
        if failure:
            pytest.fail(failure, pytrace=False)

    # -- running ------------------------------------------------------------------------------

    def swap(self, key: Key, mode: str | None) -> Swap:
        """The Swap of `key` in `mode`, started on first use."""
        if (key, mode) not in self.running:
            number = self.keys.setdefault(key, len(self.keys) + 1)
            state = self.base() / (f"stack-swap{number}" + (f"-{mode}" if mode else ""))
            self.running[key, mode] = Swap(self.project, key, state, mode)
        return self.running[key, mode]

    def stack_ids(self) -> set[str]:
        return {i for s in self.running.values() for i in s.backend.stack_ids()}

    def close(self) -> None:
        running, self.running = self.running, {}
        for swap in running.values():
            swap.close()
