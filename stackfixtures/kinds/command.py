"""command: any program, declared in a profile with its command, probe and stop policy."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from typing import Any

from ..kind_api import (
    Handle,
    ServiceContext,
    plain_options,
    probes,
    run_once,
    service,
    spawn,
)
from .base import Kind, moved

OPTIONS = "stackfixtures.kinds.command_options:CommandConfig"
"""Its options model (command_options.py), named: validation imports it, a start need not."""

__getattr__ = moved(
    __name__,
    "stackfixtures.kinds.command_options",
    ("CommandConfig", "follow_registry", "ready_table"),
)
"""The options model and its helpers, still importable from here (imported when asked)."""


def ready_probe(ready: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float | None]:
    """A plain `ready` table's probe keys (as ProbeTable.as_probe_dict gives them) and its
    timeout."""
    if not ready:
        return None, None
    keys = {k: v for k, v in ready.items() if k != "timeout" and v is not None}
    return keys, ready.get("timeout")


@service(config=OPTIONS)
async def command(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Run `command`; ready when its `ready` probe passes (or as soon as it is spawned). With
    `task = true` it runs to completion instead (migrations, seed data, a test suite): done
    when it exits 0, failed with its exit code otherwise."""
    cfg = plain_options(ctx.definition)
    command, cwd = cfg["command"], cfg.get("cwd")
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if ctx.definition.task:
        await run_once(argv, ctx=ctx, cwd=cwd)
        yield Handle(exit_code=0)
        return
    keys, timeout = ready_probe(cfg.get("ready"))
    probe = probes.from_spec(keys) if keys else None
    async with spawn(argv, cwd=cwd, ready=probe, timeout=timeout) as proc:
        yield Handle(
            host=ctx.host,
            port=ctx.port,
            url=f"http://{ctx.host}:{ctx.port}",
            pid=proc.pid,
        )


COMMAND_HANDLE = ("host", "port", "url", "pid")

COMMAND = Kind(
    name="command",
    service=command,
    summary="any program, with its command, readiness probe and stop policy",
    handle=COMMAND_HANDLE,
    handle_of=lambda d: ("exit_code",) if d.task else COMMAND_HANDLE,
)
"""No container of its own: `stack export` runs it from the profile's `export` table. A task
(`task = true`) hands out `exit_code` only: nothing of it runs any more."""
