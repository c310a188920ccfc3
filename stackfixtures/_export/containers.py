"""Each session service of a profile as a container: image, command, port, environment with
`${svc.attr}` wiring resolved to container names, probes, stop policy, dependencies, volume.

A kind that knows its container (the data kinds: their official images) says how it runs; every
other service says in its profile's `export` table which image (and command) runs it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import kinds
from .._define import templates as wiring
from .._define.container import Container, ContainerProbe
from .._define.graph import Graph
from .._define.policies import override_stop, stop
from .._define.service import Scope, ServiceDefinition
from .._engine.probes import registry
from .._project import Project
from .._project.checks import where_defined
from ..errors import DefinitionError, KindUnavailable, Problem, ProfileError
from ..kinds.external import handle_for
from . import loopback

DEFAULT_APP_PORT = 8000


Namer = Callable[[str], str]
Report = Callable[[str, str], None]


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
    """The profile's session services as containers, in start order. Every service that cannot
    be one is reported, all at once: ProfileError with each problem's file:line and key."""
    graph: Graph = proj.graph
    problems: list[Problem] = []
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

        def report(key: str, message: str, d: ServiceDefinition = d) -> None:
            problems.append(_where(proj, d, key, message))

        container = _container(d, host, attrs, report, _base_dir(proj))
        if container is None:
            attrs[name] = _Unknown(host)  # its dependents are still checked
            continue
        exp = d.export
        if "replicas" in exp:
            container.replicas = int(exp["replicas"])
        elif d.replicas > 1:
            container.replicas = d.replicas
        container.task = d.task
        if container.task:
            container.port, container.ports = None, []  # nothing reaches a task: no port
        elif container.port and not container.ports:
            container.ports = [(str(container.port), d.port)]  # as reachable as the service is
        container.depends_on = [
            (dep, d.edge(dep))
            for dep in d.dependencies
            if dep in graph and graph[dep].scope == Scope.SESSION
        ]
        attrs[name] = _Attrs(container.attrs)
        out.append(container)
    if problems:
        raise ProfileError.of(problems)
    return out


def _base_dir(proj: Project) -> Path:
    """What relative paths of a profile (volumes, build contexts) are relative to."""
    return proj.profile.path.parent if proj.profile else proj.root


def _where(proj: Project, d: ServiceDefinition, key: str, message: str) -> Problem:
    """A problem of service `d` at `key`: where the profile writes the service, else where its
    @service is defined (with the key the profile would set)."""
    profile = proj.full_profile
    origins = profile.origins if profile is not None else None
    if profile is not None and origins is not None and origins.find(("services", d.name))[1]:
        return profile.problem(key, message)
    file, line = where_defined(d, proj.root)
    return Problem(file, key, message, line, service=d.name)


def _container(
    d: ServiceDefinition,
    host: str,
    attrs: dict[str, Any],
    report: Report,
    base: Path,
) -> Container | None:
    """Service `d` as a container: as its kind says (a data kind, a container), else from its
    profile's `export` table. None when it cannot be one (each reason reported)."""
    exp = dict(d.export)
    own = _own_container(d) if "image" not in exp else None
    if own is None:
        return _app(d, exp, host, attrs, report)
    try:
        container = own(d, host)
    except (DefinitionError, KindUnavailable, ValueError) as e:
        report(f"services.{d.name}", str(e))
        return None
    render = _renderer(d, container.port, host, attrs, report)
    container.command = _render_all(container.command, render) if container.command else None
    if container.entrypoint:
        container.entrypoint = _render_all(container.entrypoint, render)
    container.env = {k: render(v, f"env.{k}") for k, v in container.env.items()}
    if container.healthcheck is not None:
        test = container.healthcheck["test"]
        container.healthcheck["test"] = _render_all(test, lambda t: render(t, "healthcheck"))
    container.volumes = [_absolute(v, base) for v in container.volumes]
    if container.build is not None:
        context = Path(str(container.build.get("context", ".")))
        container.build["context"] = str(base / context)
        if not (base / context).is_dir():
            report(f"services.{d.name}.build.context", f"no such directory: {base / context}")
    if container.ready is None and container.healthcheck is None and not container.image_health:
        spec = d.config.get("ready")
        container.ready = _probe(spec, container.port, render) if spec else None
    return container


def _absolute(volume: str, base: Path) -> str:
    """A bind mount's relative host path (`./site:/www`) made absolute: the Compose file may be
    written anywhere, and its relative paths would be read from there."""
    if volume.startswith(("./", "../")) or volume in (".", ".."):
        host, sep, rest = volume.partition(":")
        return f"{os.path.normpath(base / host)}{sep}{rest}"
    return volume


def _renderer(
    d: ServiceDefinition, port: int | None, host: str, attrs: dict[str, Any], report: Report
) -> Callable[..., str]:
    """`${...}` as seen inside a container: its own port, every address, names for hosts; a
    template that cannot be filled is reported at `key` (and left as written)."""

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

    def render(text: str, key: str = "command") -> str:
        try:
            return wiring.render(str(text), own, attrs)
        except KeyError as e:
            report(f"services.{d.name}.{key}", f"cannot fill {e.args[0] if e.args else e}")
            return str(text)

    return render


def _own_container(d: ServiceDefinition) -> Callable[[ServiceDefinition, str], Container] | None:
    """How the service's kind runs in a container, when the kind knows (the data kinds do)."""
    kind = kinds.get(d.kind) if d.kind else None
    return kind.container if kind is not None else None


class _Attrs:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class _Unknown:
    """A service that could not be exported, as its dependents' templates see it."""

    def __init__(self, host: str) -> None:
        self.host = host

    def __getattr__(self, name: str) -> str:
        return self.host


def _app(
    d: ServiceDefinition,
    exp: dict[str, Any],
    host: str,
    attrs: dict[str, Any],
    report: Report,
) -> Container | None:
    """A service of the profile's own (a command, Python code) from its `export` table."""
    name, cfg = d.name, d.config
    image = exp.get("image")
    if not image:
        report(
            f"services.{name}.export.image",
            "an image is needed to run this service in a container",
        )
    raw = exp.get("command") or cfg.get("command")
    listens = d.kind == "command" and "${port}" in repr((raw, d.env, cfg.get("ready")))
    port = exp.get("port") or d.port or (DEFAULT_APP_PORT if listens else None)
    render = _renderer(d, port, host, attrs, report)
    if raw is None:
        report(
            f"services.{name}.export.command",
            "a command is needed to run this service in a container",
        )
    if not image or raw is None:
        return None
    command = loopback.rewrite(shlex.split(raw) if isinstance(raw, str) else list(raw))
    env = {k: render(str(v), f"env.{k}") for k, v in {**d.env, **exp.get("env", {})}.items()}
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
