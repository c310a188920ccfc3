"""Per-test fixtures without declaring them: for each data service of a kind that has one
(postgres, redis, nats), its function-scoped fixture, named after the service: `postgres_db`
for a postgres service named `postgres`, `<name>_db` for one named otherwise (`<name>_prefix`
for nats), unless the project defines that name itself."""

from __future__ import annotations

from .. import kinds
from .._define.graph import Graph
from .._define.service import ServiceDefinition
from .templates import builders_of, needs_template


def fixture_name(service: str, kind: str, per_test: str) -> str:
    """`postgres` + postgres_db -> `postgres_db`; `db` -> `db_db`; nats `bus` -> `bus_prefix`."""
    suffix = per_test[len(kind) :] if per_test.startswith(kind) else f"_{per_test}"
    return f"{service}{suffix}"


def with_per_test(graph: Graph) -> Graph:
    """`graph` plus a per-test fixture for every service whose kind has one."""
    added: dict[str, ServiceDefinition] = {}
    builders = builders_of(graph.definitions)  # a postgres_db waits for its template
    for name, d in graph.definitions.items():
        if d.kind is None or "." in name:
            continue
        kind = kinds.get(d.kind) if d.kind in kinds.builtin_names() else None
        if kind is None or kind.per_test is None:
            continue
        per_test = kinds.get(kind.per_test)
        fixture = fixture_name(name, kind.name, kind.per_test)
        if per_test is None or fixture in graph or fixture in added:
            continue
        base = per_test.service
        param = base.params[0]  # the server it works on, e.g. `postgres`
        added[fixture] = needs_template(
            base.evolve(
                name=fixture,
                kind=per_test.name,
                inject={param: name} if param != name else {},
                start_timeout=d.start_timeout,
            ),
            builders,
        )
    return Graph({**graph.definitions, **added}) if added else graph
