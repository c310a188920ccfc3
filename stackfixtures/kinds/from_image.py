"""The data kinds' `source = "container"`: their server from the image each kind's `image_of`
picks (images.py's rule: `image`/`tag`, else the official image at the version the local source
would run -- the same image `stack export` writes), run through the container kind's `running`,
its port published on 127.0.0.1 at the service's port, ready by the kind's own probe, stopped
with the kind's own stop policy. Their options (`FromImage`): from_image_options.py, imported
only to validate a profile.

    [services.db]
    kind = "postgres"
    source = "container"
    tag = "16"               # optional; image = "postgres" by default; engine as the container kind
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import StartError
from ..kind_api import (
    Probe,
    ServiceContext,
    StopPolicy,
    cancel_and_wait_out,
    to_the_end,
    wait_ready,
)

if TYPE_CHECKING:
    import docker

    from .container import Started

T = TypeVar("T")


@dataclass
class Server:
    """A data kind's server as a container: what the image's contract asks for."""

    image: str
    port: int  # inside the container
    probe: Probe
    stop: StopPolicy
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def serving(ctx: ServiceContext, cfg: Any, server: Server) -> AsyncIterator[Started]:
    """Run `server` as the service's container until the block ends; ready when its probe
    passes against the published port (ProcessExited with its output if it ends first).
    `cfg`: the service's options (an OptionsView, or its model): their `engine`."""
    from .container import ContainerSpec, running  # (the container kind: only when it runs one)

    spec = ContainerSpec(
        image=server.image,
        command=server.command,
        env=server.env,
        ports={f"{server.port}/tcp": ctx.port},
        engine=cfg.engine,
        stop=server.stop,
    )
    await _pulled(ctx, spec.url(), server.image)
    async with running(ctx, spec) as started:
        ctx.log.write(
            f"[stackfixtures] {ctx.definition.kind} from image {server.image}: container "
            f"{started.container.short_id}, port {server.port} at 127.0.0.1:{ctx.port}"
        )
        await wait_ready(
            server.probe,
            ctx,
            ctx.remaining(),
            exited=started.exit_code,
            exit_future=started.ended,
        )
        yield started


async def _pulled(ctx: ServiceContext, url: str, image: str) -> None:
    """The image on the engine: pulled when it is not there (as `docker run` does), its
    progress in the service's log; StartError naming it and the engine's words when it cannot
    be. Blocking SDK calls, in a thread, each read bounded by what is left of the start budget;
    cancelled (a start timeout, Ctrl-C), the pull's stream is cut and the thread ends at once
    (at its next read, should it be waiting for the engine's first answer)."""
    from .container import engine

    loop = asyncio.get_running_loop()

    def say(line: str) -> None:
        loop.call_soon_threadsafe(ctx.log.write, line)

    budget = max(1.0, ctx.remaining()) + 1  # (1 s past it: the start's timeout says it first)
    made_by = await in_thread(lambda: engine.client(url, math.ceil(budget)))
    with engine.closing(made_by):
        engine.bounded(made_by, budget)
        streams, stop = engine.Streams(made_by), threading.Event()
        pulling = asyncio.ensure_future(asyncio.to_thread(_pull, made_by, url, image, say, stop))
        try:
            await asyncio.wait({pulling})
        except asyncio.CancelledError:
            stop.set()
            streams.cut()
            await cancel_and_wait_out([], [pulling])  # (then raises the cancellation again)
            raise
        why = pulling.result()
    if why:
        raise StartError(
            ctx.name,
            "starting",
            f"image {image!r} is not on the engine at {url} and cannot be pulled ({why}): pull "
            "or build it there, or name another with `image` and `tag`",
        )


def _pull(
    made_by: docker.DockerClient,
    url: str,
    image: str,
    say: Callable[[str], None],
    stop: threading.Event,
) -> str | None:
    """Pull `image` unless the engine has it; None when it is there, else the engine's why
    ("cancelled" once `stop` is set: seen at the pull's next event)."""
    import docker
    import requests
    from docker.utils import parse_repository_tag

    with contextlib.suppress(docker.errors.ImageNotFound):
        made_by.images.get(image)
        return None
    say(f"[stackfixtures] pulling {image} on {url}")
    repository, tag = parse_repository_tag(image)
    try:
        for event in made_by.api.pull(repository, tag, stream=True, decode=True):
            if stop.is_set():
                return "cancelled"
            if "error" in event:
                return str(event["error"])
            if "id" not in event and event.get("status"):  # (not each layer's progress)
                say(str(event["status"]))
    except docker.errors.APIError as e:
        return str(e.explanation or e)
    except requests.RequestException as e:  # (no answer within the budget, or cut)
        return f"no answer from the engine ({e})"
    return "cancelled" if stop.is_set() else None


async def in_thread(call: Callable[[], T]) -> T:
    """`call()` in a thread, awaited to its end even when cancelled (blocking work that ends
    by itself, soon or bounded: an engine's pull, a server's `--version`); a cancellation
    goes on once it ended."""
    return await to_the_end(asyncio.to_thread(call))
