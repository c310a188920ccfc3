"""Each session service of a profile as a container: image, command, port, environment with
`${svc.attr}` wiring resolved to container names, probes, stop policy, dependencies, volume.

A kind that knows its container (the data kinds: their official images) says how it runs; every
other service says in its profile's `export` table which image (and command) runs it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .. import kinds
from .._define import templates as wiring
from .._define.container import Container, ContainerProbe
from .._define.graph import Graph
from .._define.policies import override_stop, stop
from .._define.service import Scope, ServiceDefinition
from .._engine.probes import registry
from .._project import Project
from ..errors import ProfileError
from ..kinds.external import handle_for

DEFAULT_APP_PORT = 8000


Namer = Callable[[str], str]


def _probe(
    spec: dict[str, Any] | None,
    port: int | None,
    render: Callable[[str], str],
    period: float | None = None,
    timeout: float | None = None,
    failures: int | None = None,
) -> ContainerProbe | None:
    """A profile probe table as a container probe, as its probe says it runs in a container
    (_engine/probes/registry.py; a log probe has no container equivalent). The timing given
    (a liveness policy's) replaces the probe's; what is not given stays the container probe's
    own (_define/container.py: LivenessPolicy's defaults)."""
    found = registry.container_probe(spec, port, render) if spec else None
    if found is None:
        return None
    return replace(
        found,
        period=found.period if period is None else period,
        timeout=found.timeout if timeout is None else timeout,
        failures=found.failures if failures is None else failures,
    )


def _render_all(value: Any, render: Callable[[str], str]) -> Any:
    if isinstance(value, list):
        return [render(str(v)) for v in value]
    return render(str(value))


def containers(proj: Project, namer: Namer = str) -> list[Container]:
    """The profile's session services as containers, in start order."""
    graph: Graph = proj.graph
    file = str(proj.profile.path) if proj.profile else str(proj.root)
    out: list[Container] = []
    attrs: dict[str, Any] = {}  # name -> handle-like object for wiring
    for name in graph.closure(proj.selected):
        d = graph[name]
        host = namer(name)
        if d.kind == "external":
            attrs[name] = handle_for(str(d.config["url"]))
            continue
        if d.scope != Scope.SESSION or d.kind == "postgres_template":
            continue  # per-test services (postgres_db, ...) and their templates are not deployed
        exp = dict(d.export)
        own = _own_container(d) if "image" not in exp else None
        container = own(d, host) if own is not None else _app(name, d, exp, host, file, attrs)
        if "replicas" in exp:
            container.replicas = int(exp["replicas"])
        elif d.replicas > 1:
            container.replicas = d.replicas
        container.task = d.task
        container.depends_on = [
            (dep, d.edge(dep))
            for dep in d.dependencies
            if dep in graph and graph[dep].scope == Scope.SESSION
        ]
        attrs[name] = _Attrs(container.attrs)
        out.append(container)
    return out


def _own_container(d: ServiceDefinition) -> Callable[[ServiceDefinition, str], Container] | None:
    """How the service's kind runs in a container, when the kind knows (the data kinds do)."""
    kind = kinds.get(d.kind) if d.kind else None
    return kind.container if kind is not None else None


class _Attrs:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _app(
    name: str,
    d: ServiceDefinition,
    exp: dict[str, Any],
    host: str,
    file: str,
    attrs: dict[str, Any],
) -> Container:
    cfg = d.config
    image = exp.get("image")
    if not image:
        raise ProfileError(
            file,
            f"services.{name}.export.image",
            "an image is needed to run this service in a container",
        )
    port = exp.get("port") or d.port or (DEFAULT_APP_PORT if d.kind == "command" else None)

    def own(key: str) -> Any:
        values = {
            "port": port or DEFAULT_APP_PORT,
            "host": "0.0.0.0",
            "name": host,
            "state_dir": "/data",
            "data_dir": "/data",
            "root": "/app",
        }
        return values[key]

    def render(text: str) -> str:
        return wiring.render(text, own, attrs)

    raw = exp.get("command") or cfg.get("command")
    if raw is None:
        raise ProfileError(
            file,
            f"services.{name}.export.command",
            "a command is needed to run this service in a container",
        )
    command = shlex.split(raw) if isinstance(raw, str) else list(raw)
    env = {k: render(str(v)) for k, v in {**d.env, **exp.get("env", {})}.items()}
    ready_spec = exp.get("ready") or cfg.get("ready")
    live = d.liveness
    live_spec = live.probe if live is not None and isinstance(live.probe, dict) else None
    url = f"http://{host}:{port}" if port else None
    return Container(
        name,
        str(image),
        _render_all(command, render),
        port,
        env,
        _probe(ready_spec, port, render),
        _probe(live_spec, port, render, live.period, live.timeout, live.failure_threshold)
        if live
        else None,
        override_stop(d.stop_policy or stop(), d.stop_overrides),
        d.restart,
        d.timeout,
        attrs={"host": host, "port": port, "url": url, **({"endpoint": url} if url else {})},
    )
