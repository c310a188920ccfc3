"""The external kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: external.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExternalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    ready: bool = True  # probe it before dependents start
