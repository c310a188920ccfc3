"""How the control protocol's values travel as JSON: handles, stops, events, errors. One place,
used by the server to encode and by the remote client to decode. (errors.py is imported by the
functions that code an error: a command whose requests succeed never loads it.)"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .. import errors
    from .._define.service import Handle
    from .._engine.records import ServiceStop


def handle_to_json(handle: Any) -> dict[str, Any]:
    """A handle as JSON-able attributes (what a process attached elsewhere receives)."""
    from .._define.service import attributes

    return attributes(handle)


def handle_from_json(data: dict[str, Any]) -> Handle:
    from .._define.service import Handle

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
    from .._engine.records import ServiceStop, StopRecord  # (only a stop's answer needs them)

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


def started_to_json(handles: Mapping[str, Any], states: Mapping[str, object]) -> dict[str, Any]:
    """The answer to a start: each service's handle and state."""
    return {
        "handles": {n: handle_to_json(h) for n, h in handles.items()},
        "states": {n: str(s) for n, s in states.items()},
    }


def stopped_to_json(stops: list[ServiceStop]) -> dict[str, Any]:
    """The answer to a stop (the server's, `stack stop --json`'s): what stopped, in order."""
    return {
        "stopped": [s.service for s in stops],
        "graceful": all(s.graceful for s in stops),
        "stops": stops_to_json(stops),
    }


def signalled_to_json(pids: list[int], signal: int | str) -> dict[str, Any]:
    """The answer to a kill, pause or resume: the pids signalled and the signal's name."""
    from .._define.policies import parse_signal

    return {"signalled": pids, "signal": parse_signal(signal).name}


def scaled_to_json(name: str, states: Mapping[str, str]) -> dict[str, Any]:
    """The answer to a scale: each replica's name and state."""
    return {"service": name, "replicas": list(states), "states": dict(states)}


def error_status(e: BaseException) -> int:
    """The HTTP status of the answer that reports `e`."""
    from .. import errors

    if isinstance(e, errors.UnknownService):
        return 404
    if isinstance(e, errors.ControlError):
        return e.status
    return 408 if isinstance(e, TimeoutError) else 409


def error_to_json(e: BaseException) -> dict[str, Any]:
    """An error as the server reports it: its message and type and, for a StackError, what
    rebuilds it on the other side as itself (its class's name and its attributes)."""
    from .. import errors

    data: dict[str, Any] = {"error": str(e), "type": type(e).__name__}
    if isinstance(e, errors.StackError):
        data["family"] = [c.__name__ for c in type(e).__mro__ if _stack_error(c.__name__)]
        data["args"] = [_to_json(a) for a in e.args]
        data["fields"] = {k: _to_json(v) for k, v in vars(e).items()}
    return data


def error_from_json(data: dict[str, Any], status: int) -> Exception:
    """The error a remote stack reported, as the exception a local one would have raised: a
    StackError as its own class (or, made outside errors.py, its nearest base there) with its
    attributes; a TimeoutError as one; anything else as a ControlError with its message."""
    from .. import errors

    message = str(data.get("error", ""))
    for name in data.get("family", ()):
        cls = _stack_error(name)
        if cls is not None:
            error = cls.__new__(cls)  # its __init__ formats a message: it has one already
            error.args = tuple(_from_json(a) for a in data.get("args", [message]))
            vars(error).update({k: _from_json(v) for k, v in data.get("fields", {}).items()})
            return error
    if data.get("type") == "TimeoutError":
        return TimeoutError(message)
    return errors.ControlError(message, status)


def _stack_error(name: str) -> type[errors.StackError] | None:
    """The StackError subclass of errors.py called `name` (where every one is defined)."""
    from .. import errors

    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.StackError):
        return cls
    return None


def _to_json(value: Any) -> Any:
    """An error's attribute as JSON: as itself when JSON has it, a nested error (a
    DependencyFailed's cause), an errors.py dataclass (a Problem) or a Path (a state dir)
    tagged, so each arrives as itself; anything else as its str."""
    import dataclasses

    from .. import errors

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return {"$error": error_to_json(value)}
    if dataclasses.is_dataclass(value) and getattr(errors, type(value).__name__, None) is type(
        value
    ):
        fields = {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$value": type(value).__name__, "fields": fields}
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    return str(value)


def _from_json(value: Any) -> Any:
    import dataclasses

    from .. import errors

    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$error" in value:
        return _nested_error(value["$error"])
    if "$path" in value:
        return Path(value["$path"])
    if "$value" in value:
        cls = getattr(errors, str(value["$value"]), None)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            return cls(**{k: _from_json(v) for k, v in value["fields"].items()})
    return {k: _from_json(v) for k, v in value.items()}


def _nested_error(data: dict[str, Any]) -> BaseException:
    """An error held by another (a cause): a StackError as itself, a built-in exception
    (OSError, RuntimeError, ...) as one of its class, anything else as a ControlError."""
    from .. import errors

    if data.get("family"):
        return error_from_json(data, 409)
    cls = getattr(builtins, str(data.get("type")), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        with contextlib.suppress(Exception):
            return cls(str(data.get("error", "")))
    return errors.ControlError(str(data.get("error", "")))
