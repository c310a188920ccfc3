"""The `container` kind: its options rendered into a ContainerSpec, run, probed, handed out."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from ...kind_api import (
    Handle,
    OptionsView,
    Probe,
    ServiceContext,
    ServiceDefinition,
    plain_options,
    probes,
    service,
    wait_ready,
)
from ..base import Kind
from ..command import ready_probe
from . import engines, health, network, volumes
from .build import build_image, tag_for
from .exec_probe import InsideProbe
from .export import exported
from .run import ContainerSpec, Started, running

OPTIONS = "stackfixtures.kinds.container.options:ContainerConfig"
"""Its options model (options.py), named: validation imports it, a start need not (the
service reads its options as plain data: OptionsView)."""


def _published(cfg: OptionsView, ctx: ServiceContext) -> dict[str, int]:
    """Each container port ("80/tcp") at its host port (published on 127.0.0.1)."""
    found = {}
    for inside, outside in cfg.ports.items():
        if isinstance(outside, int):
            ctx.require_free(outside)  # a pinned port: PortInUse naming its holder, at once
            host = outside
        else:  # `${port}` (checked as the service's own port, if `port = N` pins it)
            host = int(ctx.render(outside))
        found[inside if "/" in inside else f"{inside}/tcp"] = host
    return found


def _pinned(cfg: OptionsView) -> int | None:
    """The first host port `ports` pins (None when it pins none)."""
    return next((p for p in cfg.ports.values() if isinstance(p, int)), None)


def _argv(given: Sequence[str] | str | None, render: Callable[[str], str]) -> list[str] | None:
    """A command or entrypoint as the engine takes it: split like a shell line if one string,
    each word's `${...}` rendered."""
    if not given:
        return None
    return [render(a) for a in (shlex.split(given) if isinstance(given, str) else given)]


def volumes_dir(ctx: ServiceContext) -> Path:
    """Where the stack keeps its named volumes: `volumes/` of its state dir (a service's state
    dir is STATE/services/NAME), removed with it by `stack down --volumes`."""
    mine = ctx.state_dir
    stack = mine.parent.parent if mine.parent.name == "services" else mine
    return stack / "volumes"


def spec_of(
    cfg: OptionsView,
    ctx: ServiceContext,
    image: str,
    render: Callable[[str], str] | None = None,
) -> ContainerSpec:
    """The kind's options, rendered, as what to run. What runs inside (command, entrypoint,
    env) is rendered by `render`: the dependencies as the container sees them."""
    render = render or ctx.render
    check = cfg.healthcheck
    return ContainerSpec(
        image=image,
        command=_argv(cfg.command, render),
        entrypoint=_argv(cfg.entrypoint, render),
        env={k: render(str(v)) for k, v in ctx.definition.env.items()},
        ports=_published(cfg, ctx),
        user=cfg.user,
        workdir=cfg.workdir,
        engine=cfg.engine,
        volumes=volumes.binds(
            [volumes.parse_volume(v) for v in cfg.volumes],
            volumes_dir(ctx),
            ctx.root,
            ctx.render,
            ctx.name,
        ),
        healthcheck=health.engine_form(check) if isinstance(check, OptionsView) else None,
    )


def _readiness(
    cfg: OptionsView, keys: dict[str, Any] | None, started: Started, render: Callable[[str], str]
) -> tuple[Probe | None, InsideProbe | None]:
    """The probe of `ready`'s probe `keys` (an `exec` there runs inside the container, its
    words rendered by `render`: as the container sees its dependencies) and the engine's
    healthcheck, all of them to pass; and the inside probe, whose checks its owner awaits."""
    found: list[Any] = []
    table = dict(keys or {})
    inside = None
    if "exec" in table:
        given = table.pop("exec")
        inside = InsideProbe(started.container, tuple(_argv(given, render) or ()))
    if table:
        found.append(probes.from_spec(table))
    if inside is not None:
        found.append(inside)
    if cfg.healthcheck is not None:
        check = cfg.healthcheck
        every = check.interval if isinstance(check, OptionsView) else 1.0
        found.append(health.HealthProbe(started.container, health.described(check), every))
    if not found:
        return None, inside
    return (found[0] if len(found) == 1 else probes.all_(*found)), inside


@service(config=OPTIONS)
async def container(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Run `image` (built first from `build` if given) as a container; ready when its `ready`
    probe passes against the published port and the engine says it is healthy (or as soon as
    it runs); stopped by the engine with the service's stop policy."""
    plain = plain_options(ctx.definition)
    cfg = OptionsView(plain)
    keys, ready_timeout = ready_probe(plain.get("ready"))
    image = tag_for(ctx, cfg.build, cfg.image) if cfg.build else str(cfg.image)
    url = engines.resolve(cfg.engine)
    inside = None
    try:
        run = image  # a build's: its image ID (the tag may be another build's by then)
        if cfg.build is not None:
            run = await build_image(ctx, url, cfg.build, image)
        async with (
            network.joined(ctx, url) as on,
            running(ctx, spec_of(cfg, ctx, run, on.render), on) as started,
        ):
            probe, inside = _readiness(cfg, keys, started, on.render)
            if probe is not None:
                timeout = ready_timeout or ctx.remaining()
                await wait_ready(
                    probe, ctx, timeout, exited=started.exit_code, exit_future=started.ended
                )
            port = ctx.port_if_chosen or _pinned(cfg)  # (None: it publishes no port)
            yield Handle(
                host="127.0.0.1",
                port=port,
                url=f"http://127.0.0.1:{port}" if port is not None else None,
                container_id=started.container.id,
                image=image,
            )
    finally:
        if inside is not None:  # (its checks end with the container, removed by now)
            await inside.wait_out()


CONTAINER_HANDLE = ("host", "port", "url", "container_id", "image")


def _handle_of(definition: ServiceDefinition) -> tuple[str, ...]:
    """What `${name.attr}` may name: no port or url when it publishes none (nor has `port`)."""
    if definition.config.get("ports") or definition.port is not None:
        return CONTAINER_HANDLE
    return ("host", "container_id", "image")


CONTAINER = Kind(
    name="container",
    service=container,
    summary="a container of an image, run by Docker or Podman (the docker SDK)",
    handle=CONTAINER_HANDLE,
    handle_of=_handle_of,
    binaries="an image (or a Dockerfile), run by a Docker-API engine (DOCKER_HOST or `engine`)",
    container=exported,
)
