"""`ready = { exec = [...] }` for a container: the command runs INSIDE it (the engine's exec),
ready when it exits 0. Each check runs in a thread of its own; one that outlives its timeout is
kept and awaited by `wait_out` once the container is gone (its removal ends the exec)."""

from __future__ import annotations

import asyncio
import math
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...kind_api import ServiceContext, cancel_and_wait_out
from . import engine

EVERY = 0.2
"""The least time between two checks: an exec is a process the engine starts in the container
(and, on Podman, a conmon that waits minutes for its exit code to be read), not a cheap
connect: the readiness loop's 3 ms polls would start hundreds."""

if TYPE_CHECKING:
    from docker.models.containers import Container as Running


def _exec(container: Running, argv: list[str], said: list[str]) -> int:
    import docker

    try:
        code, out = container.exec_run(argv, stdout=True, stderr=True)
    except docker.errors.APIError as e:  # (a program the image does not have, a gone container)
        said.append(str(e.explanation))
        return -1
    said.append(out.decode(errors="replace") if isinstance(out, bytes) else "")
    return int(code if code is not None else -1)


@dataclass
class InsideProbe:
    """Passes when `argv`, run in the container, exits 0."""

    container: Running
    argv: tuple[str, ...]
    timeout: float = 5.0
    every: float = EVERY
    running: list[asyncio.Future[int]] = field(default_factory=list)
    last: float = -math.inf

    def describe(self) -> str:
        return "exec (in the container) " + shlex.join(self.argv)

    def resolved(self, ctx: ServiceContext) -> str:
        return "exec (in the container) " + shlex.join(ctx.render(a) for a in self.argv)

    async def check(self, ctx: ServiceContext) -> str | None:
        await asyncio.sleep(max(0.0, self.last + self.every - time.monotonic()))
        self.last = time.monotonic()
        said: list[str] = []
        argv = [ctx.render(a) for a in self.argv]
        done = engine.in_own_thread(_exec, self.container, argv, said)
        self.running.append(done)
        try:
            async with asyncio.timeout(self.timeout):
                code = await asyncio.shield(done)
        except TimeoutError:
            return f"timed out after {self.timeout:g}s"
        self.running.remove(done)
        if code == 0:
            return None
        lines = "".join(said).strip().splitlines()
        return f"exit {code}" + (f": {lines[-1]}" if lines else "")

    async def wait_out(self) -> None:
        """Every check still running awaited to its end (call once the container is gone)."""
        await cancel_and_wait_out([], self.running)
