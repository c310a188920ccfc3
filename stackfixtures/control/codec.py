"""How the control protocol's values travel as JSON: handles, stops, events, errors. One place,
used by the server to encode and by the remote client to decode."""

from __future__ import annotations

from typing import Any

from ..define.service import Handle
from ..engine.unit import ServiceStop


def handle_to_json(handle: Any) -> dict[str, Any]:
    """A handle as JSON-able attributes (what a process attached elsewhere receives)."""
    if handle is None:
        return {}
    if hasattr(handle, "__dict__"):
        return {k: v for k, v in vars(handle).items() if not k.startswith("_")}
    return {"value": handle}


def handle_from_json(data: dict[str, Any]) -> Handle:
    return Handle(**data)


def stop_to_json(stop: ServiceStop) -> dict[str, Any]:
    return {
        "service": stop.service,
        "graceful": stop.graceful,
        "duration_s": round(stop.duration_s, 4),
        "exit_codes": stop.exit_codes,
        "error": stop.error,
        "swept": stop.swept,
    }


def stop_from_json(data: dict[str, Any]) -> ServiceStop:
    return ServiceStop(
        data["service"],
        data["graceful"],
        data["duration_s"],
        error=data.get("error", ""),
        swept=data.get("swept", 0),
    )


def stops_to_json(stops: list[ServiceStop]) -> list[dict[str, Any]]:
    return [stop_to_json(s) for s in stops]
