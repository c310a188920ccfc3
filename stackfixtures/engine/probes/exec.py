"""exec: passes when a command exits 0 (like a compose healthcheck's CMD)."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass

from ..context import ServiceContext


@dataclass(frozen=True)
class ExecProbe:
    argv: tuple[str, ...]
    timeout: float = 5.0

    def describe(self) -> str:
        return "exec " + shlex.join(self.argv)

    def resolved(self, ctx: ServiceContext) -> str:
        return "exec " + shlex.join(ctx.render(a) for a in self.argv)

    async def check(self, ctx: ServiceContext) -> str | None:
        argv = [ctx.render(a) for a in self.argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=ctx.environment(),
                cwd=ctx.root,
            )
        except OSError as e:
            return f"cannot run {argv[0]}: {e}"
        try:
            async with asyncio.timeout(self.timeout):
                out, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return f"timed out after {self.timeout:g}s"
        if proc.returncode == 0:
            return None
        text = out.decode(errors="replace").strip().splitlines()
        return f"exit {proc.returncode}" + (f": {text[-1]}" if text else "")


def exec_(*argv: str, timeout: float = 5.0) -> ExecProbe:
    """Ready when `argv` exits 0. Templates like `${port}` are filled in each argument."""
    if len(argv) == 1 and not isinstance(argv[0], str):
        argv = tuple(argv[0])
    return ExecProbe(tuple(argv), timeout)
