"""The redis kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: redis.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from ..kind_api import Count
from .from_image_options import FromImage


class RedisConfig(FromImage):
    model_config = ConfigDict(extra="forbid")
    LOCAL_ONLY = ("binary",)

    binary: str | None = None
    source: Literal["auto", "system", "wheel", "container"] = "auto"  # container: an image
    appendonly: bool = True
    databases: Count = 256  # room for one database per concurrently running test
    settings: dict[str, str | int | float | bool] = {}
