"""The container kind's options (a profile's `[services.NAME]` table of kind "container")."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, field_validator

from ...kind_api import Argv, ProbeTable, Text
from ..command import follow_registry


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
