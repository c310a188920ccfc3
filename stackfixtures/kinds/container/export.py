"""A `container` service for `stack export`: itself, as the profile writes it (image or build,
command, entrypoint, user, workdir, env, published ports, volumes, healthcheck); `${...}` in it
is filled by the exporter, as a container sees it."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from ...kind_api import Container, ServiceDefinition, data_container, stop

SECONDS = ("interval", "timeout", "start_period")


def _argv(value: Any) -> list[str] | None:
    if not value:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _ports(ports: Mapping[str, Any], pinned: int | None) -> tuple[int | None, list[Any]]:
    """(the container port `${port}` stands for, each container port at its host port: the
    pinned one, or None for the container port's own number)."""
    main: int | None = None
    out: list[tuple[str, int | None]] = []
    for inside, outside in ports.items():
        number = int(inside.partition("/")[0])
        if isinstance(outside, int) or str(outside).isdigit():
            out.append((inside, int(outside)))
            continue
        if main is None and "${port}" in str(outside):
            main = number
        out.append((inside, pinned))
    return main, out


def _healthcheck(given: Any) -> tuple[dict[str, Any] | None, bool]:
    """(Compose's healthcheck for ours, whether the image's own HEALTHCHECK decides)."""
    if given is None:
        return None, False
    if given == "image":
        return None, True
    test = given.get("test")
    out: dict[str, Any] = {"test": test if isinstance(test, str) else list(test)}
    for key in SECONDS:
        if key in given:
            out[key] = f"{float(given[key]):g}s"
    if "retries" in given:
        out["retries"] = int(given["retries"])
    return out, False


def exported(d: ServiceDefinition, host: str) -> Container:
    """The service as Compose runs it: what the stack gives the engine, ports published."""
    cfg = d.config
    main, ports = _ports(cfg.get("ports", {}), d.port)
    built = cfg.get("build")
    health, image_health = _healthcheck(cfg.get("healthcheck"))
    port = main or (int(ports[0][0].partition("/")[0]) if ports else None)
    url = f"http://{host}:{port}" if port else None
    container = data_container(
        d,
        image=str(cfg.get("image") or ""),
        port=port,
        ready=None,
        stop=d.stop_policy or stop(),
        attrs={"host": host, "port": port, "url": url},
        command=_argv(cfg.get("command")),
        env={k: str(v) for k, v in d.env.items()},
    )
    container.ports = ports
    container.volumes = [str(v) for v in cfg.get("volumes", [])]
    container.entrypoint = _argv(cfg.get("entrypoint"))
    container.user = cfg.get("user")
    container.workdir = cfg.get("workdir")
    container.build = dict(built) if isinstance(built, Mapping) else None
    container.healthcheck, container.image_health = health, image_health
    return container
