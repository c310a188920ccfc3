"""Replacing services of a project by endpoints that already run (`stack run --replace NAME=URL`,
pytest's `@pytest.mark.stack(replace={NAME: URL})`).

The replaced node becomes an `external` service for its URL (probed by the URL's scheme, never
started or stopped): what depends on it starts with that endpoint, and the real service is not
started. Templates that need an attribute the replacement lacks are refused before any start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from .._config.suggest import unknown_service
from .._define.graph import Graph
from .._define.service import ServiceDefinition
from ..errors import DefinitionError, ProfileError
from .load import Project

EXAMPLE = "redis=redis://127.0.0.1:6390/0"


def parse(pairs: Iterable[str]) -> dict[str, str]:
    """`["redis=redis://127.0.0.1:6390/0"]` -> `{"redis": "redis://127.0.0.1:6390/0"}`; a
    ValueError says what is wrong with a pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"{pair!r}: write NAME=URL, e.g. {EXAMPLE}")
        out[name.strip()] = url.strip()
    return out


def url_problem(url: str) -> str | None:
    """Why `url` cannot stand for a service (None when it can)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return f"{url!r} is not a URL (write scheme://host:port/..., e.g. redis://127.0.0.1:6390/0)"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as e:
        return f"{url!r}: {e}"
    return None


def unknown(name: str, known: Iterable[str]) -> str | None:
    """Why `name` cannot be replaced when it names no service, with a suggestion."""
    names = list(known)
    if name in names:
        return None
    return str(unknown_service(name, names))


def external(d: ServiceDefinition, url: str, source: str) -> ServiceDefinition:
    """`d` replaced by the endpoint at `url` (the external kind's service: probed by the URL's
    scheme, never started or stopped), keeping `d`'s name, scope and start timeout."""
    from ..kinds.external import EXTERNAL  # only when something is replaced

    return EXTERNAL.service.evolve(
        name=d.name,
        config={"url": url},
        kind=EXTERNAL.name,
        scope=d.scope,
        start_timeout=d.start_timeout,
        source=source,
    )


def apply(proj: Project, replace: Mapping[str, str], wanted: Iterable[str] | None) -> list[str]:
    """Replace services of `proj.graph` by the URLs of `replace`. Raises DefinitionError for an
    unknown service or a bad URL, ProfileError for a template the replacement cannot fill (at
    the key that writes it). Returns warnings: each replaced service that nothing in the
    closure of `wanted` uses (None: nothing is started up front, so nothing to say)."""
    if not replace:
        return []
    from ..kinds.external import handle_for
    from . import checks  # (imports the profile schema: only when something is replaced)

    for name, url in replace.items():
        flag = f"--replace {name}={url}"
        problem = unknown(name, proj.graph.names) or url_problem(url)
        if problem is not None:
            raise DefinitionError(f"{flag}: {problem}")
    handles = {name: handle_for(url) for name, url in replace.items()}
    what = {name: f"the replacement of {name!r} ({url})" for name, url in replace.items()}
    graph = proj.graph
    dependents = [n for n in graph.names if set(graph.dependencies(n)) & set(replace)]
    problems = checks.replaced_templates(
        proj.full_profile, graph.definitions, dependents, handles, what, stack_env=True
    )
    if problems:
        raise ProfileError.of(problems)
    proj.graph = Graph(
        {
            n: external(d, replace[n], f"--replace {n}={replace[n]}") if n in replace else d
            for n, d in graph.definitions.items()
        }
    )
    if wanted is None:
        return []
    used = set(proj.graph.closure(wanted))
    return [
        f"--replace {name}: nothing started uses {name!r}, so the replacement changes nothing"
        for name in replace
        if name not in used
    ]
