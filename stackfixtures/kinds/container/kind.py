"""The `container` kind: its options rendered into a ContainerSpec, run, probed, handed out."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Callable

from ...kind_api import (
    Handle,
    ServiceContext,
    options_of,
    probes,
    service,
    wait_ready,
)
from ..base import Kind
from . import engine, network
from .export import exported
from .options import ContainerConfig
from .run import ContainerSpec, running


def _published(cfg: ContainerConfig, ctx: ServiceContext) -> dict[str, int]:
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


def _argv(given: list[str] | str | None, render: Callable[[str], str]) -> list[str] | None:
    """A command or entrypoint as the engine takes it: split like a shell line if one string,
    each word's `${...}` rendered."""
    if not given:
        return None
    return [render(a) for a in (shlex.split(given) if isinstance(given, str) else given)]


def spec_of(
    cfg: ContainerConfig, ctx: ServiceContext, render: Callable[[str], str] | None = None
) -> ContainerSpec:
    """The kind's options, rendered, as what to run. What runs inside (command, entrypoint,
    env) is rendered by `render`: the dependencies as the container sees them."""
    render = render or ctx.render
    return ContainerSpec(
        image=cfg.image,
        command=_argv(cfg.command, render),
        entrypoint=_argv(cfg.entrypoint, render),
        env={k: render(str(v)) for k, v in ctx.definition.env.items()},
        ports=_published(cfg, ctx),
        user=cfg.user,
        workdir=cfg.workdir,
        engine=cfg.engine,
    )


@service(config=ContainerConfig)
async def container(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Run `image` as a container; ready when its `ready` probe passes against the published
    port (or as soon as it runs); stopped by the engine with the service's stop policy."""
    cfg = options_of(ctx.definition, ContainerConfig)
    async with (
        network.joined(ctx, engine.url_of(cfg.engine)) as on,
        running(ctx, spec_of(cfg, ctx, on.render), on) as started,
    ):
        if cfg.ready:
            probe = probes.from_spec(cfg.ready.as_probe_dict())
            timeout = cfg.ready.timeout or ctx.remaining()
            await wait_ready(
                probe, ctx, timeout, exited=started.exit_code, exit_future=started.ended
            )
        yield Handle(
            host="127.0.0.1",
            port=ctx.port_if_chosen,
            url=f"http://127.0.0.1:{ctx.port_if_chosen}",
            container_id=started.container.id,
            image=cfg.image,
        )


CONTAINER_HANDLE = ("host", "port", "url", "container_id", "image")

CONTAINER = Kind(
    name="container",
    service=container,
    summary="a container of an image, run by Docker or Podman (the docker SDK)",
    handle=CONTAINER_HANDLE,
    binaries="an image, run by a Docker-API engine (DOCKER_HOST or `engine`)",
    container=exported,
)
