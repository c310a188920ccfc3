"""What crosses the control socket arrives as it left: every StackError as its own class with
its attributes (tested over the codec's JSON, no process needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackfixtures import errors
from stackfixtures._control import codec
from stackfixtures._ended import exit_name, how_it_ended


def _subclasses(cls: type[errors.StackError]) -> list[type[errors.StackError]]:
    """Every StackError subclass errors.py defines (not those a test makes)."""
    found = [c for s in cls.__subclasses__() for c in (s, *_subclasses(s))]
    return [c for c in found if c.__module__ == errors.__name__]


PROBLEMS = [
    errors.Problem("profiles/dev.toml", "services.db.port", "expected an integer", 3, 8),
    errors.Problem("conftest.py", "", "no handle yielded", 12, 0, service="web"),
]
SAMPLES: dict[str, Any] = {
    "str": "text",
    "int": 4242,
    "int | None": 3,
    "float": 1.5,
    "bool": True,
    "object": Path("/srv/state"),  # a state dir: arrives as a Path, not its text
    "Sequence[str]": ["one", "two"],
    "Sequence[Problem]": PROBLEMS,
    "BaseException": errors.ProbeTimeout("db", "tcp 127.0.0.1:5", 2.0, "refused", ["log"]),
}


def sample(cls: type[errors.StackError]) -> errors.StackError:
    """An instance of `cls` with every argument given (so every attribute is set)."""
    init = next(c.__dict__["__init__"] for c in cls.__mro__ if "__init__" in c.__dict__)
    if init is Exception.__init__:
        return cls("what went wrong")
    args: dict[str, Any] = {}
    for name, annotation in init.__annotations__.items():
        if name == "return":
            continue
        assert annotation in SAMPLES, f"teach this test an argument of type {annotation}"
        value = SAMPLES[annotation]
        args[name] = f"{name}-{value}" if annotation == "str" else value
    return cls(**args)  # type: ignore[arg-type]


def shape(value: Any) -> Any:
    """What an error is, comparable: its class, message, args and attributes (nested too)."""
    if isinstance(value, BaseException):
        fields = {k: shape(v) for k, v in vars(value).items()}
        return (type(value), str(value), value.args, fields)
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    return value


def over_the_socket(error: BaseException, status: int = 409) -> Exception:
    return codec.error_from_json(json.loads(json.dumps(codec.error_to_json(error))), status)


@pytest.mark.parametrize("cls", _subclasses(errors.StackError), ids=lambda c: c.__name__)
def test_every_stack_error_arrives_as_itself(cls: type[errors.StackError]) -> None:
    error = sample(cls)
    back = over_the_socket(error)
    assert shape(back) == shape(error)
    assert isinstance(back, cls) and type(back) is cls


def test_nested_causes_and_errors_made_elsewhere() -> None:
    class Borrowed(errors.PortInUse):
        """A StackError subclass outside errors.py: arrives as its nearest base there."""

    back = over_the_socket(Borrowed("db", 5432, "pid 7 (nginx)", answered=True))
    assert type(back) is errors.PortInUse and back.port == 5432 and back.holder == "pid 7 (nginx)"
    failed = errors.DependencyFailed("web", "db", OSError("no space left on device"))
    back = over_the_socket(failed)
    assert isinstance(back, errors.DependencyFailed) and type(back.cause) is OSError
    assert str(back) == str(failed)


def test_other_errors_arrive_as_a_control_error_or_a_timeout() -> None:
    back = over_the_socket(RuntimeError("a bug"), 500)
    assert type(back) is errors.ControlError and back.status == 500 and str(back) == "a bug"
    assert type(over_the_socket(TimeoutError("db is ready, not stopped"))) is TimeoutError


def test_an_error_status_follows_its_class() -> None:
    assert codec.error_status(errors.UnknownService("x", ["db"])) == 404
    assert codec.error_status(errors.RequestRefused("0 replicas")) == 400
    assert codec.error_status(errors.StartError("db", "starting", "no")) == 409
    assert codec.error_status(TimeoutError()) == 408


def test_an_exit_in_words() -> None:
    assert [exit_name(c) for c in (None, 0, 3, -9, -99)] == ["", "0", "3", "SIGKILL", "signal 99"]
    assert how_it_ended(-15) == "killed by SIGTERM" and how_it_ended(2) == "exited with code 2"
