"""`build = { context, dockerfile, args }`: the image built by the engine before the container
starts (the docker SDK's build, its output streamed into the service's log), tagged `image`
when given, else a name of the stack's own for that context and Dockerfile. A build that fails
names the Dockerfile, the engine's error and the build's last lines."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any

from ...errors import StartError
from ...kind_api import OptionsView, ServiceContext, cancel_and_wait_out, container_labels
from . import engine

if TYPE_CHECKING:
    import docker

LAST_LINES = 10


class _Failed(Exception):
    def __init__(self, why: str, last: list[str]) -> None:
        super().__init__(why)
        self.why, self.last = why, last


def tag_for(ctx: ServiceContext, build: OptionsView, image: str | None) -> str:
    """`image` if given, else `stackfixtures-build/SERVICE:HASH` (of the context and the
    Dockerfile's paths and the rendered args: the same build gets the same tag, and the
    engine's cache; one with other args, another). The container is made from the image ID
    the build gave, so a tag taken by another build meanwhile never changes what runs."""
    if image:
        return image
    name = re.sub(r"[^a-z0-9_.-]+", "-", ctx.name.lower()).strip("-_.") or "service"
    what = [build.context, build.dockerfile, *sorted(_args(ctx, build).items())]
    digest = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:12]
    return f"stackfixtures-build/{name}:{digest}"


def _args(ctx: ServiceContext, build: OptionsView) -> dict[str, str]:
    return {k: ctx.render(v) for k, v in build.args.items()}


def _build(
    made_by: docker.DockerClient,
    how: dict[str, Any],
    say: Any,
    stop: threading.Event,
    made: list[str],
) -> int:
    """The build, each line of its output to `say`, the image ID it gave appended to `made`;
    _Failed with the last lines if it fails, or when `stop` is set (seen at its next line, or
    when one read waits the client's timeout out: the engine cancels a build whose client went
    away)."""
    import docker
    import requests

    last: collections.deque[str] = collections.deque(maxlen=LAST_LINES)
    chunks = made_by.api.build(decode=True, rm=True, forcerm=True, **how)
    try:
        for chunk in chunks:
            for line in str(chunk.get("stream", "")).splitlines():
                if line.strip():
                    say(line)
                    last.append(line)
            if "error" in chunk:
                raise _Failed(str(chunk["error"]).strip(), list(last))
            if isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
                made.append(str(chunk["aux"]["ID"]))
            if stop.is_set():
                raise _Failed("cancelled", list(last))
    except docker.errors.APIError as e:
        raise _Failed(str(e.explanation), list(last)) from None
    except requests.RequestException as e:  # (a read that waited the client's timeout out)
        raise _Failed(f"no answer from the engine ({e})", list(last)) from None
    finally:
        chunks.close()
    return 0


def _where(ctx: ServiceContext, build: OptionsView) -> tuple[str, str]:
    """The context dir and the Dockerfile's path in it (StartError if either is missing)."""
    context = build.context if os.path.isabs(build.context) else str(ctx.root / build.context)
    dockerfile = os.path.join(context, build.dockerfile)
    if not os.path.isdir(context):
        raise StartError(ctx.name, "building", f"build context {context} is not a directory")
    if not os.path.isfile(dockerfile):
        raise StartError(ctx.name, "building", f"no Dockerfile at {dockerfile}")
    return context, dockerfile


async def build_image(ctx: ServiceContext, url: str, build: OptionsView, tag: str) -> str:
    """Build `build` as `tag` on the engine at `url`; the image's ID (what to run: the tag may
    be another build's by then). StartError naming the Dockerfile and the build's last lines
    if it fails. Cancelled, it is stopped at its next line of output, or when a read has
    waited what was left of the start budget."""
    context, dockerfile = _where(ctx, build)
    made_by = await asyncio.to_thread(engine.client, url, max(30, round(ctx.remaining())))
    with engine.closing(made_by):
        return await _built(ctx, made_by, context, dockerfile, build, tag)


async def _built(
    ctx: ServiceContext,
    made_by: docker.DockerClient,
    context: str,
    dockerfile: str,
    build: OptionsView,
    tag: str,
) -> str:
    loop = asyncio.get_running_loop()
    say = ctx.log.write
    labels = {k: v for k, v in container_labels(ctx).items() if not k.endswith(".stack")}
    how = {
        "path": context,
        "dockerfile": build.dockerfile,
        "tag": tag,
        "buildargs": _args(ctx, build),
        "labels": labels,
    }
    say(f"building {tag} from {dockerfile}")
    stop = threading.Event()
    made: list[str] = []
    done = engine.in_own_thread(
        _build, made_by, how, lambda line: loop.call_soon_threadsafe(say, line), stop, made
    )
    try:
        await asyncio.wait({done})
    except asyncio.CancelledError:  # the thread sees it at its next line and ends the build
        stop.set()
        await cancel_and_wait_out([], [done])  # (then raises the cancellation again)
        raise
    try:
        done.result()
    except _Failed as e:
        tail = "\n".join(f"  {line}" for line in e.last)
        why = f"building {dockerfile} failed: {e.why}" + (
            f"\nits last lines:\n{tail}" if tail else ""
        )
        raise StartError(ctx.name, "building", why) from None
    if not made:  # (an engine whose build output gave no ID: the tag, as it names it now)
        return str((await asyncio.to_thread(made_by.images.get, tag)).id)
    return made[-1]
