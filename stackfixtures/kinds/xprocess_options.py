"""The xprocess kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: xprocess.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class XprocessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starter: str  # "module:Class", a pytest-xprocess ProcessStarter subclass
