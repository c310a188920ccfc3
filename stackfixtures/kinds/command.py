"""command: any program, declared in a profile with its command, probe and stop policy."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator

from ..kind_api import (
    Argv,
    Handle,
    ProbeTable,
    ServiceContext,
    Text,
    checked_table,
    options_of,
    probes,
    run_once,
    service,
    spawn,
)
from .base import Kind


def ready_table() -> type[ProbeTable]:
    """`ready = { ... }`: the probe keys the registry knows now (_engine/probes/registry.py;
    one model per registry content, so a probe module added later is a key here too)."""
    return checked_table(probes.registry.fields())


class CommandConfig(BaseModel):
    """The command kind's options. `ready` follows the probe registry: each validation first
    makes it `ready_table()` as the registry is now (never the table of import time)."""

    model_config = ConfigDict(extra="forbid")

    command: Argv | Text
    cwd: Text | None = None
    ready: ProbeTable | None = None  # ready_table(), as of the last model_validate

    @classmethod
    def model_validate(cls, obj: Any, **how: Any) -> Self:
        follow_registry(cls)
        return super().model_validate(obj, **how)

    @field_validator("command")
    @classmethod
    def _splits(cls, v: list[str] | str) -> list[str] | str:
        """A command written as one string must split like a shell line, into something."""
        if isinstance(v, str):
            try:
                words = shlex.split(v)
            except ValueError as e:
                raise ValueError(f"cannot split it like a shell line: {e}") from None
            if not words:
                raise ValueError("must not be empty (expected a program to run)")
        return v


def follow_registry(model: type[BaseModel]) -> None:
    """Make `model`'s `ready` the registry's table, if the registry changed since (a probe
    module added): rebuilt then only, so its errors (explain) name the keys there are. (Every
    kind with a `ready` table: command, container.)"""
    ready = model.model_fields["ready"]
    wanted: Any = ready_table() | None
    if ready.annotation != wanted:
        ready.annotation = wanted
        model.model_rebuild(force=True)


follow_registry(CommandConfig)


@service(config=CommandConfig)
async def command(ctx: ServiceContext) -> AsyncIterator[Handle]:
    """Run `command`; ready when its `ready` probe passes (or as soon as it is spawned). With
    `task = true` it runs to completion instead (migrations, seed data, a test suite): done
    when it exits 0, failed with its exit code otherwise."""
    cfg = options_of(ctx.definition, CommandConfig)
    argv = shlex.split(cfg.command) if isinstance(cfg.command, str) else cfg.command
    if ctx.definition.task:
        await run_once(argv, ctx=ctx, cwd=cfg.cwd)
        yield Handle(exit_code=0)
        return
    probe = probes.from_spec(cfg.ready.as_probe_dict()) if cfg.ready else None
    timeout = cfg.ready.timeout if cfg.ready else None
    async with spawn(argv, cwd=cfg.cwd, ready=probe, timeout=timeout) as proc:
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
