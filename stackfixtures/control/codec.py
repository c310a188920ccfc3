"""How the control protocol's values travel as JSON: handles, stops, events, errors. One place,
used by the server to encode and by the remote client to decode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..engine.records import ServiceStop, StopRecord

if TYPE_CHECKING:
    from ..define.service import Handle


def handle_to_json(handle: Any) -> dict[str, Any]:
    """A handle as JSON-able attributes (what a process attached elsewhere receives)."""
    from ..define.service import attributes

    return attributes(handle)


def handle_from_json(data: dict[str, Any]) -> Handle:
    from ..define.service import Handle

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
    records = [
        StopRecord(data["service"], 0, data["graceful"], code, 0.0, "")
        for code in data.get("exit_codes", [])
    ]  # what a client can know of each process: its exit code
    return ServiceStop(
        data["service"],
        data["graceful"],
        data["duration_s"],
        processes=records,
        error=data.get("error", ""),
        swept=data.get("swept", 0),
    )


def stops_to_json(stops: list[ServiceStop]) -> list[dict[str, Any]]:
    return [stop_to_json(s) for s in stops]


_SERVICE_ERRORS = (errors.StartupCrashed, errors.StartError, errors.StopError, errors.ServiceError)
"""Service errors rebuilt on the other side as the nearest of these (same message)."""


def error_to_json(e: BaseException) -> dict[str, Any]:
    """An error as the server reports it: its message, its type, and what rebuilds it."""
    data: dict[str, Any] = {"error": str(e), "type": type(e).__name__}
    if isinstance(e, errors.UnknownService):
        data.update(service=e.name, known=e.known, hint=e.hint)
    elif isinstance(e, errors.ServiceError):
        data.update(service=e.service, state=e.state, reason=e.reason, log_tail=e.log_tail)
        data["family"] = next(c.__name__ for c in _SERVICE_ERRORS if isinstance(e, c))
    return data


def error_from_json(data: dict[str, Any], status: int) -> Exception:
    """The error a remote stack reported, as the exception a local one would have raised."""
    message = str(data.get("error", ""))
    kind = data.get("type")
    if kind == "UnknownService":
        return errors.UnknownService(data["service"], data["known"], data.get("hint", ""))
    if kind == "TimeoutError":
        return TimeoutError(message)
    family = data.get("family")
    for cls in _SERVICE_ERRORS:
        if cls.__name__ == family:
            error = cls(data["service"], data["state"], data["reason"], data["log_tail"])
            error.args = (message,)
            return error
    return errors.ControlError(message, status)
