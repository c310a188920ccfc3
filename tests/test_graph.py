"""The graph rejects bad definitions before anything starts, and orders what it accepts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import stackfixtures as sf
from stackfixtures._define.graph import Graph


def define(name: str, deps: tuple[str, ...] = (), scope: str = "session") -> sf.ServiceDefinition:
    def fn() -> Iterator[None]:
        yield None

    return sf.ServiceDefinition(
        name=name, function=fn, params=(), extra_deps=deps, scope=sf.Scope.parse(scope)
    )


def graph(*defs: sf.ServiceDefinition) -> Graph:
    return Graph({d.name: d for d in defs})


def test_unknown_dependency_names_both_services() -> None:
    with pytest.raises(sf.UnknownDependency, match="'web' depends on 'db', which is not defined"):
        graph(define("web", ("db",)))


def test_cycle_is_reported_as_its_path() -> None:
    with pytest.raises(sf.DependencyCycle) as info:
        graph(define("a", ("b",)), define("b", ("c",)), define("c", ("a",)), define("d", ("a",)))
    assert str(info.value) == "dependency cycle: a -> b -> c -> a"


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(sf.DependencyCycle, match="a -> a"):
        graph(define("a", ("a",)))


def test_wider_scope_cannot_depend_on_narrower() -> None:
    with pytest.raises(
        sf.ScopeMismatch, match="session-scoped service 'web' depends on function-scoped 'db'"
    ):
        graph(define("db", scope="function"), define("web", ("db",)))


def test_narrower_may_depend_on_wider() -> None:
    g = graph(define("db"), define("fdb", ("db",), scope="function"))
    assert g.closure(["fdb"]) == ["db", "fdb"]


def test_closure_levels_and_stop_order() -> None:
    g = graph(
        define("db"),
        define("cache"),
        define("web", ("db", "cache")),
        define("worker", ("db",)),
        define("lonely"),
    )
    assert g.closure(["web"]) == ["db", "cache", "web"]
    assert [sorted(level) for level in g.levels(g.closure(["web", "worker"]))] == [
        ["cache", "db"],
        ["web", "worker"],
    ]
    stop = g.dependents_closure(["db"])
    assert set(stop) == {"db", "web", "worker"}
    assert stop.index("web") < stop.index("db") and stop.index("worker") < stop.index("db")


def test_reach_ends_at_replaced_services_and_names_those_it_met() -> None:
    """What a test's service runs on when some are replaced (pytest_plugin/swap.py): the same
    walk as the closures, which does not go past a replaced service."""
    g = graph(
        define("db"),
        define("cache", ("db",)),
        define("api", ("db", "cache")),
        define("web", ("api",)),
    )
    assert g.reach("web", {"cache"}) == (["db", "api", "web"], {"cache"})
    assert g.reach("web", {"api"}) == (["web"], {"api"})
    assert g.reach("web", set()) == (g.closure(["web"]), set())
    assert g.dependents_closure(["cache"]) == ["web", "api", "cache"]
    with pytest.raises(sf.UnknownDependency, match="'nope'"):
        g.closure(["web", "nope"])


def test_parameters_name_dependencies() -> None:
    @sf.service
    def web(db, cache, ctx):  # type: ignore[no-untyped-def]
        yield sf.Handle(url="x")

    assert web.params == ("db", "cache")
    assert web.wants_ctx


def test_service_must_be_a_generator() -> None:
    with pytest.raises(TypeError, match="must be a generator"):
        sf.service(lambda: None)


def test_what_a_service_going_down_takes_with_it() -> None:
    """supervisor.affected: each running dependent follows its own edge, transitively; below
    one that stops, a "restart" edge stops too; "ignore" and stopped services are left alone."""
    from dataclasses import replace
    from types import SimpleNamespace

    from stackfixtures._engine.supervisor import affected

    defs = [
        define("db"),
        replace(define("api", ("db",)), edges={"db": "restart"}),
        replace(define("web", ("api",)), edges={"api": "restart"}),
        replace(define("jobs", ("db",)), edges={"db": "stop"}),
        replace(define("mail", ("jobs",)), edges={"jobs": "restart"}),
        replace(define("audit", ("db",)), edges={"db": "ignore"}),
        replace(define("idle", ("api",)), edges={"api": "restart"}),
    ]
    g = graph(*defs)
    units = {d.name: SimpleNamespace(definition=d, active=d.name != "idle") for d in defs}
    assert affected(g, units, "db") == {  # type: ignore[arg-type]
        "api": "restart",
        "web": "restart",
        "jobs": "stop",
        "mail": "stop",
    }
