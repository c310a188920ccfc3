"""The components kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: components.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..kind_api import Seconds


class ComponentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factory: str
    components: list[str]
    grace: Seconds = 10.0
