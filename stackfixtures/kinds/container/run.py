"""One container's life as a service: created with the stack's labels (its engine recorded
first), followed, stopped by the service's stop policy and removed. The `container` kind and
the data kinds' `source = "container"` both run their containers through `running`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...kind_api import (
    ServiceContext,
    StopPolicy,
    cancel_and_wait_out,
    container_labels,
    record_engine,
)
from . import engine, engines

if TYPE_CHECKING:
    from docker.models.containers import Container as Running


@dataclass
class ContainerSpec:
    """What to run: the engine's create arguments, in the kind's words. `ports` maps a
    container port ("80/tcp") to its host port (published on 127.0.0.1)."""

    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    engine: str | None = None  # "auto" (None), "docker", "podman" or a URL (engines.py)
    volumes: list[str] = field(default_factory=list)  # "HOST:PATH:ro|rw" (volumes.binds)
    healthcheck: dict[str, Any] | None = None  # the engine's form (health.engine_form)
    stop: StopPolicy | None = None  # the kind's own (a data kind's); the profile's `stop` refines

    def url(self) -> str:
        return engines.resolve(self.engine)


@dataclass
class Started:
    """A container that runs: the SDK's object and the future of its exit code."""

    container: Running
    ended: asyncio.Future[int]
    url: str

    def exit_code(self) -> int | None:
        return self.ended.result() if self.ended.done() else None


@contextlib.asynccontextmanager
async def running(ctx: ServiceContext, spec: ContainerSpec) -> AsyncIterator[Started]:
    """Run `spec` as the service `ctx`'s container until the block ends, then stop it (the stop
    policy's signal, SIGKILL after its grace) and remove it. An exit while the block runs, not
    asked for, is reported as the service's crash."""
    import docker

    url = spec.url()
    made_by = await asyncio.to_thread(engine.client, url)
    with engine.closing(made_by):
        policy = ctx.stop_policy(spec.stop)
        record_engine(ctx, url)  # before it exists: a watchdog must know where to look
        made = asyncio.ensure_future(
            asyncio.to_thread(
                engine.create_and_start,
                made_by,
                ctx.name,
                url,
                spec.image,
                command=spec.command,
                environment=spec.env,
                ports={inside: ("127.0.0.1", host) for inside, host in spec.ports.items()},
                labels=container_labels(ctx),
                stop_signal=policy.signal.name,
                entrypoint=spec.entrypoint,
                user=spec.user,
                working_dir=spec.workdir,
                volumes=spec.volumes or None,
                healthcheck=spec.healthcheck,
            )
        )
        try:  # (a thread is not cut off: awaited to its end, even when cancelled meanwhile)
            await cancel_and_wait_out([], [made])
        except asyncio.CancelledError:
            if made.exception() is None:  # made while we were cancelled: not to be left
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    await asyncio.to_thread(made.result().remove, force=True)
            raise
        container = made.result()  # (StartError if the engine refused it)
        loop = asyncio.get_running_loop()
        say = ctx.log.write
        ended = engine.in_own_thread(
            engine.follow, container, lambda line: loop.call_soon_threadsafe(say, line)
        )
        stopping = False

        def _ended(done: asyncio.Future[int]) -> None:
            if not stopping and not done.cancelled():
                ctx.ended_unasked(f"container {container.short_id}", done.result())

        ended.add_done_callback(_ended)
        try:
            yield Started(container, ended, url)
        finally:
            stopping = True
            grace = max(0, round(policy.grace))  # (a second cancellation, e.g. a start
            # timeout's, must not cut the removal off: a stopped container was left)
            done = asyncio.ensure_future(_stop_and_remove(container, grace, ended, say))
            await cancel_and_wait_out([], [done])


async def _stop_and_remove(
    container: Running, grace: int, ended: asyncio.Future[int], say: Any
) -> None:
    """The engine's stop (the policy's signal, SIGKILL after `grace`), its exit code in the
    log, then the container removed; the thread that follows it awaited to its end (removing
    the container ends it, should the engine not have stopped it)."""
    import docker

    with contextlib.suppress(docker.errors.DockerException, OSError):
        await asyncio.to_thread(container.stop, timeout=grace)
    await asyncio.wait({ended}, timeout=grace + 10)
    if ended.done() and not ended.cancelled():
        say(f"container {container.short_id} exited with {ended.result()}")
    with contextlib.suppress(docker.errors.DockerException, OSError):
        await asyncio.to_thread(container.remove, force=True)
    await cancel_and_wait_out([], [ended])
