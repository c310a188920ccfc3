"""The container kind's options model (a profile's `[services.NAME]` table of kind "container"):
imported to validate a profile, never by a start from a compiled profile (the service reads its
options as plain data: kind.py)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ...kind_api import Argv, Count, ProbeTable, Seconds, Text
from ..command_options import follow_registry
from .engines import check_engine
from .volumes import parse_volume


def _volume(written: str) -> str:
    parse_volume(written)  # ValueError, in words, for one that is not a volume
    return written


VolumeText = Annotated[Text, AfterValidator(_volume)]


class BuildTable(BaseModel):
    """`build = { context = "dir", dockerfile = "Dockerfile", args = { K = "v" } }`."""

    model_config = ConfigDict(extra="forbid")

    context: Text = "."
    dockerfile: Text = "Dockerfile"  # relative to the context (as Docker takes it)
    args: dict[str, str] = {}


class HealthTable(BaseModel):
    """`healthcheck = { test = [...], interval, timeout, retries, start_period }`: the engine
    runs `test` in the container; the service is ready when the engine says healthy."""

    model_config = ConfigDict(extra="forbid")

    test: Argv | Text
    interval: Seconds = 1.0
    timeout: Seconds = 1.0
    retries: Count = 30
    start_period: Annotated[float, Strict(), Field(ge=0)] = 0.0

    @field_validator("test")
    @classmethod
    def _test(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, list) and v[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError('a list starts with "CMD" or "CMD-SHELL" (as Compose takes it)')
        if isinstance(v, list) and len(v) < 2:
            raise ValueError(f"{v[0]!r} with no command after it")
        return v


class ContainerConfig(BaseModel):
    """The container kind's options."""

    model_config = ConfigDict(extra="forbid")

    image: Text | None = None  # required unless `build` is given (then the tag it gets)
    build: BuildTable | None = None
    command: Argv | Text | None = None
    ports: dict[str, int | Text] = {}  # container port ("80", "80/tcp") -> host port
    volumes: list[VolumeText] = []  # "NAME:/path[:ro]" (in the state dir) or "./dir:/path[:ro]"
    healthcheck: Literal["image"] | HealthTable | None = None
    entrypoint: Argv | Text | None = None  # replaces the image's (then `command` is its args)
    user: Text | None = None  # "uid", "uid:gid" or a name the image knows
    workdir: Text | None = None
    engine: Text | None = None  # "auto" (None), "docker", "podman" or the engine's URL
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

    @field_validator("engine")
    @classmethod
    def _engine(cls, v: str | None) -> str | None:
        return check_engine(v) if v is not None else None

    @model_validator(mode="after")
    def _whole(self, info: ValidationInfo) -> Self:
        if self.image is None and self.build is None:
            raise ValueError("needs `image` (or `build`, a Dockerfile to build it from)")
        base = (info.context or {}).get("profile_dir") if info is not None else None
        if base is not None:  # host paths as written, relative to the profile's directory
            self.volumes = [parse_volume(v).anchored(str(base)) for v in self.volumes]
            if self.build is not None and not os.path.isabs(self.build.context):
                self.build.context = os.path.normpath(os.path.join(base, self.build.context))
        return self


follow_registry(ContainerConfig)
