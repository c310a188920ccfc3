"""The kafka kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: kafka.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class KafkaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: str | None = None
    heap: str = "512M"
    settings: dict[str, str | int | bool] = {}
