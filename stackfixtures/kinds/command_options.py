"""The command kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: command.py)."""

from __future__ import annotations

import shlex
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator

from ..kind_api import Argv, ProbeTable, Text, checked_table, probes


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
