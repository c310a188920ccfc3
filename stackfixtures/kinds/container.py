"""container: a service that is a container of an image, run by a Docker-API engine.

    [services.web]
    kind = "container"
    image = "nginx:1.27"
    command = ["nginx", "-g", "daemon off;"]
    env = { GREETING = "hello" }
    ports = { "80" = "${port}" }          # container port -> host port (`${port}` or pinned)
    ready = { http = "http://127.0.0.1:${port}/" }
    stop = { signal = "SIGQUIT", grace = 5 }
    # also: entrypoint (then `command` is its arguments), user ("uid[:gid]"), workdir

Ports are published on 127.0.0.1 only. The stop policy is the engine's stop (its signal, then
SIGKILL after the grace). The container's output goes into the service's log. Every container
carries the stack's labels and its engine is written in the stack's ledger first, so the
watchdog or a sweep removes it if the launcher dies. The engine is `engine` (a URL such as
unix:///run/docker.sock), else DOCKER_HOST, else the default socket; the docker SDK
(`pip install stackfixtures[containers]`) speaks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, field_validator

from ..errors import KindUnavailable, StartError
from ..kind_api import (
    Argv,
    Handle,
    ProbeTable,
    ServiceContext,
    Text,
    cancel_and_wait_out,
    container_labels,
    options_of,
    probes,
    record_engine,
    service,
    wait_ready,
)
from .base import Kind
from .command import follow_registry

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container as Running

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
HOW_TO_GET_ONE = (
    "start Docker (or `podman system service`) and set DOCKER_HOST, or the service's "
    "`engine`, to its socket; on Debian: apt-get install docker.io && dockerd &"
)


class ContainerConfig(BaseModel):
    """The container kind's options."""

    model_config = ConfigDict(extra="forbid")

    image: Text
    command: Argv | Text | None = None
    ports: dict[str, int | Text] = {}  # container port ("80", "80/tcp") -> host port
    entrypoint: Argv | Text | None = None  # replaces the image's (then `command` is its args)
    user: Text | None = None  # "uid", "uid:gid" or a name the image knows
    workdir: Text | None = None
    engine: Text | None = None
    ready: ProbeTable | None = None  # the registry's probe keys (as the command kind's)

    @classmethod
    def model_validate(cls, obj: Any, **how: Any) -> Self:
        follow_registry(cls)
        return super().model_validate(obj, **how)

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: dict[str, int | str]) -> dict[str, int | str]:
        for inside, outside in v.items():
            number, _, proto = inside.partition("/")
            if (
                not number.isdigit()
                or not 0 < int(number) < 65536
                or proto not in ("", "tcp", "udp")
            ):
                raise ValueError(f'{inside!r} is not a container port (e.g. "80" or "53/udp")')
            if isinstance(outside, int) and not 0 < outside < 65536:
                raise ValueError(f"host port {outside} is out of range (1-65535)")
            if isinstance(outside, str) and "${" not in outside and not outside.isdigit():
                raise ValueError(f'host port {outside!r}: expected a number or "${{port}}"')
        return v


follow_registry(ContainerConfig)


def _client(url: str) -> docker.DockerClient:
    """A client of the engine at `url`; KindUnavailable, saying how to get one, when there is
    none (or no docker SDK)."""
    try:
        import docker
    except ImportError:
        raise KindUnavailable(
            "the container kind needs the docker SDK: pip install 'stackfixtures[containers]'"
        ) from None
    try:
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
    except (docker.errors.DockerException, OSError, ValueError) as e:
        raise KindUnavailable(
            f"no container engine answers at {url} ({e}): {HOW_TO_GET_ONE}"
        ) from None
    return client


def _published(cfg: ContainerConfig, ctx: ServiceContext) -> dict[str, tuple[str, int]]:
    """The engine's `ports` argument: each container port on 127.0.0.1 at its host port."""
    found = {}
    for inside, outside in cfg.ports.items():
        if isinstance(outside, int):
            ctx.require_free(outside)  # a pinned port: PortInUse naming its holder, at once
            host = outside
        else:  # `${port}` (checked as the service's own port, if `port = N` pins it)
            host = int(ctx.render(outside))
        found[inside if "/" in inside else f"{inside}/tcp"] = ("127.0.0.1", host)
    return found


def _argv(given: list[str] | str | None, ctx: ServiceContext) -> list[str] | None:
    """A command or entrypoint as the engine takes it: split like a shell line if one string,
    each word's `${...}` rendered."""
    if not given:
        return None
    return [ctx.render(a) for a in (shlex.split(given) if isinstance(given, str) else given)]


def _follow(container: Running, say: Any) -> int:
    """Copy the container's output, line by line, to `say` until it ends (the engine's log
    stream ends with it), then its exit code (-1 if the engine cannot say). Blocks: run in a
    thread of its own (`_in_own_thread`)."""
    import docker

    rest = b""
    with contextlib.suppress(docker.errors.DockerException, OSError, ValueError):
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                say(line.decode(errors="replace"))
    if rest:
        say(rest.decode(errors="replace"))
    try:
        return int(container.wait()["StatusCode"])
    except (docker.errors.DockerException, OSError, ValueError, KeyError):
        return -1


def _in_own_thread(fn: Callable[..., int], *args: Any) -> asyncio.Future[int]:
    """`fn(*args)` in a thread of its own, its outcome as a future of the running loop. Not
    the loop's default pool (min(32, cpus + 4) threads): a thread that follows a container
    for its whole life there would starve every other `to_thread` once a few containers run.
    Its owner awaits the future (the thread ends with the container)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def settle(value: int | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value if value is not None else -1)

    def work() -> None:
        try:
            value, error = fn(*args), None
        except BaseException as e:  # handed to the loop, raised to the future's owner
            value, error = None, e
        with contextlib.suppress(RuntimeError):  # (the loop closed meanwhile: nobody waits)
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name=f"follow {args[0].short_id}", daemon=True).start()
    return done


def _create_and_start(
    client: docker.DockerClient, name: str, url: str, image: str, **how: Any
) -> Running:
    """Create the container, then start it; one the engine created but could not start (a
    port, a missing program) is removed at once. StartError, in words, when refused."""
    import docker

    try:
        made = client.containers.create(image, **how)
    except docker.errors.ImageNotFound as e:
        why = f"image {image!r} not found on {url} ({e.explanation})"
        raise StartError(name, "starting", why) from None
    except docker.errors.APIError as e:
        raise StartError(
            name, "starting", f"the engine at {url} refused: {e.explanation}"
        ) from None
    try:
        made.start()
    except docker.errors.APIError as e:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            made.remove(force=True)
        why = f"the engine at {url} cannot start it: {e.explanation}"
        raise StartError(name, "starting", why) from None
    return made


@contextlib.contextmanager
def _closing(client: docker.DockerClient) -> Iterator[docker.DockerClient]:
    try:
        yield client
    finally:
        client.close()


@service(config=ContainerConfig)
async def container(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Run `image` as a container; ready when its `ready` probe passes against the published
    port (or as soon as it runs); stopped by the engine with the service's stop policy."""
    import docker

    cfg = options_of(ctx.definition, ContainerConfig)
    url = cfg.engine or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE
    client = await asyncio.to_thread(_client, url)
    with _closing(client):
        policy = ctx.stop_policy()
        record_engine(ctx, url)  # before it exists: a watchdog must know where to look
        made = asyncio.ensure_future(
            asyncio.to_thread(
                _create_and_start,
                client,
                ctx.name,
                url,
                cfg.image,
                command=_argv(cfg.command, ctx),
                environment={k: ctx.render(str(v)) for k, v in ctx.definition.env.items()},
                ports=_published(cfg, ctx),
                labels=container_labels(ctx),
                stop_signal=policy.signal.name,
                entrypoint=_argv(cfg.entrypoint, ctx),
                user=cfg.user,
                working_dir=cfg.workdir,
            )
        )
        try:  # (a thread is not cut off: awaited to its end, even when cancelled meanwhile)
            await cancel_and_wait_out([], [made])
        except asyncio.CancelledError:
            if made.exception() is None:  # made while we were cancelled: not to be left
                with contextlib.suppress(docker.errors.DockerException, OSError):
                    await asyncio.to_thread(made.result().remove, force=True)
            raise
        running = made.result()  # (StartError if the engine refused it)
        loop = asyncio.get_running_loop()
        say = ctx.log.write
        ended = _in_own_thread(_follow, running, lambda line: loop.call_soon_threadsafe(say, line))
        stopping = False

        def _ended(done: asyncio.Future[int]) -> None:
            if not stopping and not done.cancelled():
                ctx.ended_unasked(f"container {running.short_id}", done.result())

        ended.add_done_callback(_ended)
        try:
            if cfg.ready:
                probe = probes.from_spec(cfg.ready.as_probe_dict())
                timeout = cfg.ready.timeout or ctx.remaining()
                await wait_ready(
                    probe,
                    ctx,
                    timeout,
                    exited=lambda: ended.result() if ended.done() else None,
                    exit_future=ended,
                )
            yield Handle(
                host="127.0.0.1",
                port=ctx.port_if_chosen,
                url=f"http://127.0.0.1:{ctx.port_if_chosen}",
                container_id=running.id,
                image=cfg.image,
            )
        finally:
            stopping = True
            await _stop_and_remove(running, max(0, round(policy.grace)), ended, say)


async def _stop_and_remove(
    running: Running, grace: int, ended: asyncio.Future[int], say: Any
) -> None:
    """The engine's stop (the policy's signal, SIGKILL after `grace`), its exit code in the
    log, then the container removed; the thread that follows it awaited to its end (removing
    the container ends it, should the engine not have stopped it)."""
    import docker

    with contextlib.suppress(docker.errors.DockerException, OSError):
        await asyncio.to_thread(running.stop, timeout=grace)
    await asyncio.wait({ended}, timeout=grace + 10)
    if ended.done() and not ended.cancelled():
        say(f"container {running.short_id} exited with {ended.result()}")
    with contextlib.suppress(docker.errors.DockerException, OSError):
        await asyncio.to_thread(running.remove, force=True)
    await cancel_and_wait_out([], [ended])


CONTAINER_HANDLE = ("host", "port", "url", "container_id", "image")

CONTAINER = Kind(
    name="container",
    service=container,
    summary="a container of an image, run by Docker or Podman (the docker SDK)",
    handle=CONTAINER_HANDLE,
    binaries="an image, run by a Docker-API engine (DOCKER_HOST or `engine`)",
)
