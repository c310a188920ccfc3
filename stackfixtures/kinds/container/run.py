"""One container's life as a service: created with the stack's labels on the stack's network
(network.py: its engine recorded first), with the image's volumes made labelled (anonymous.py),
followed, stopped by the service's stop policy and removed with them. The `container` kind and
the data kinds' `source = "container"` both run their containers through `running`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...kind_api import ServiceContext, StopPolicy, cancel_and_wait_out, container_labels
from . import anonymous, engine, engines, network

FIRST = asyncio.FIRST_COMPLETED
KILLED_WITHIN = 10.0
"""How long a container may take to end after SIGKILL before it is removed by force."""
FOLLOW_ENDS_WITHIN = 5.0
"""How long the engine may take to end a removed container's output stream before it is cut."""

if TYPE_CHECKING:
    from docker.models.containers import Container as Running
    from docker.models.volumes import Volume


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


def _made(
    on: network.OnNetwork, name: str, spec: ContainerSpec, labels: dict[str, str], **how: Any
) -> tuple[Running, list[Volume]]:
    """The image's volumes, made with the stack's labels, then the container on the stack
    network, started (blocking). The volumes are removed again if it cannot be."""
    made_by = on.client
    taken = [bind.rsplit(":", 2)[1] for bind in spec.volumes]  # (an image VOLUME mounted over)
    volumes = anonymous.make(made_by, spec.image, taken, labels)
    try:
        container = engine.create_and_start(
            made_by,
            name,
            on.url,
            spec.image,
            labels=labels,
            mounts=anonymous.mounts(volumes),
            **network.endpoint(made_by, on),
            **how,
        )
    except BaseException:
        anonymous.remove([v for v, _ in volumes])
        raise
    return container, [v for v, _ in volumes]


@contextlib.asynccontextmanager
async def running(
    ctx: ServiceContext, spec: ContainerSpec, on: network.OnNetwork | None = None
) -> AsyncIterator[Started]:
    """Run `spec` as the service `ctx`'s container until the block ends, then stop it (the stop
    policy's signal, SIGKILL after its grace) and remove it with its volumes. It joins the
    stack network (`on`, when the caller has joined it already to render the spec as seen
    from inside). An exit while the block runs, not asked for, is the service's crash."""
    async with contextlib.AsyncExitStack() as holding:
        if on is None:
            on = await holding.enter_async_context(network.joined(ctx, spec.url()))
        async with _running(ctx, spec, on) as started:
            yield started


@contextlib.asynccontextmanager
async def _running(
    ctx: ServiceContext, spec: ContainerSpec, on: network.OnNetwork
) -> AsyncIterator[Started]:
    import docker

    policy = ctx.stop_policy(spec.stop)
    made = asyncio.ensure_future(
        asyncio.to_thread(
            _made,
            on,
            ctx.name,
            spec,
            container_labels(ctx),
            command=spec.command,
            environment=spec.env,
            ports={inside: ("127.0.0.1", host) for inside, host in spec.ports.items()},
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
            container, volumes = made.result()
            with contextlib.suppress(docker.errors.DockerException, OSError):
                await asyncio.to_thread(container.remove, force=True, v=True)
            await asyncio.to_thread(anonymous.remove, volumes)
        raise
    container, volumes = made.result()  # (StartError if the engine refused it)
    loop = asyncio.get_running_loop()
    say = ctx.log.write
    streams = engine.Streams(on.client)  # (its output stream: cut if the engine holds it)
    ended = engine.in_own_thread(
        engine.follow, container, lambda line: loop.call_soon_threadsafe(say, line)
    )
    stopping = False

    def _ended(done: asyncio.Future[int]) -> None:
        if not stopping and not done.cancelled():
            ctx.ended_unasked(f"container {container.short_id}", done.result())

    ended.add_done_callback(_ended)
    try:
        yield Started(container, ended, on.url)
    finally:
        stopping = True
        gone = asyncio.ensure_future(
            _stop_and_remove(ctx, container, policy, ended, volumes, streams)
        )
        await cancel_and_wait_out([], [gone])  # (bounded: grace + 10 s and the removals)


async def _stop_and_remove(
    ctx: ServiceContext,
    container: Running,
    policy: StopPolicy,
    ended: asyncio.Future[int],
    volumes: list[Volume],
    streams: engine.Streams,
) -> None:
    """The policy's signal, then SIGKILL once its grace is over (or at once when the stack is
    hurried meanwhile: a second Ctrl-C), recorded as graceful or forced as a process's stop
    is; its exit code in the log; then the container removed (with any anonymous volume the
    engine made for it) and our volumes; the thread that follows it awaited to its end
    (removing the container ends it, should the engine not have stopped it; `_followed`). Sent by us
    rather than the engine's `stop` (which kills after whole seconds, and does not say
    whether it had to): the record tells the truth. Run to its end even when its caller is
    cancelled meanwhile: nothing is left half-stopped."""
    import docker

    began = time.monotonic()
    pid, note, graceful = 0, "", True
    if not ended.done():
        with contextlib.suppress(docker.errors.DockerException, OSError, KeyError):
            await asyncio.to_thread(container.reload)
            pid = int(container.attrs["State"]["Pid"])
        with contextlib.suppress(docker.errors.DockerException, OSError):
            await asyncio.to_thread(container.kill, signal=policy.signal.name)
        hurried = asyncio.ensure_future(ctx.hurry.wait())
        try:
            either: set[asyncio.Future[Any]] = {ended, hurried}
            await asyncio.wait(either, timeout=policy.grace, return_when=FIRST)
        finally:
            await cancel_and_wait_out([hurried], [])
        if not ended.done():
            graceful = False
            note = "hurried" if ctx.hurry.is_set() else f"grace {policy.grace:g}s expired"
            with contextlib.suppress(docker.errors.DockerException, OSError):
                await asyncio.to_thread(container.kill)  # (SIGKILL)
            await asyncio.wait({ended}, timeout=KILLED_WITHIN)
    else:
        note = "had already exited"
    code = ended.result() if ended.done() and not ended.cancelled() else None
    if code is not None:
        ctx.log.write(f"container {container.short_id} exited with {code}")
    ctx.record_stop(pid, graceful, code, began, note)
    with contextlib.suppress(docker.errors.DockerException, OSError):
        await asyncio.to_thread(container.remove, force=True, v=True)
    await asyncio.to_thread(anonymous.remove, volumes)
    await _followed(ctx, container, ended, streams)


async def _followed(
    ctx: ServiceContext, container: Running, ended: asyncio.Future[int], streams: engine.Streams
) -> None:
    """The thread that follows the removed container, awaited to its end: within
    FOLLOW_ENDS_WITHIN s (the engine ends the stream), else its stream is cut (said in the log)
    and it is awaited as long again; an engine that holds it even so (hung) leaves it to end
    by itself (its outcome taken then), never the stop."""
    await asyncio.wait({ended}, timeout=FOLLOW_ENDS_WITHIN)
    if not ended.done():
        ctx.log.write(
            f"[stackfixtures] the engine did not end container {container.short_id}'s output "
            f"stream within {FOLLOW_ENDS_WITHIN:g}s of its removal: cut"
        )
        streams.cut()
        await asyncio.wait({ended}, timeout=FOLLOW_ENDS_WITHIN)
    if ended.done():
        await cancel_and_wait_out([], [ended])
    else:
        ended.add_done_callback(lambda done: done.cancelled() or done.exception())
