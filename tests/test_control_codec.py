"""What crosses the control socket arrives as it left: every StackError as its own class with
its attributes (tested over the codec's JSON, no process needed), and the socket opens without
touching the process's umask."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackfixtures import errors
from stackfixtures.control import codec
from stackfixtures.control.http import Request, serve_unix
from stackfixtures.control.local import LoopControl
from stackfixtures.control.server import ControlServer
from stackfixtures.define.ended import exit_name, how_it_ended


def _subclasses(cls: type[errors.StackError]) -> list[type[errors.StackError]]:
    return [c for s in cls.__subclasses__() for c in (s, *_subclasses(s))]


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
    "object": "/srv/state",
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


async def test_files_made_while_the_socket_opens_keep_the_umask(tmp_path: Path) -> None:
    """A service spawned (or a state file written) while the launcher opens its control
    socket gets the process's umask, not the socket's private mode; the socket is 0600."""

    async def answer(request: Request) -> tuple[int, Any]:
        return 200, {"path": request.path}

    made: list[int] = []
    opened = False

    async def make_files() -> None:
        while not opened:
            path = tmp_path / f"file{len(made)}"
            path.touch()
            made.append(path.stat().st_mode & 0o777)
            await asyncio.sleep(0)

    old = os.umask(0o022)
    try:
        maker = asyncio.create_task(make_files())
        await asyncio.sleep(0)  # it makes its first file, then one each time the loop turns
        server = await serve_unix(tmp_path / "control.sock", answer)
        opened = True
        await maker
    finally:
        os.umask(old)
    try:
        assert len(made) >= 2 and set(made) == {0o644}, [oct(m) for m in made]
        assert (tmp_path / "control.sock").stat().st_mode & 0o777 == 0o600
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "control.sock"))
        writer.write(b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        assert b'{"path": "/ping"}' in await reader.read()
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_malformed_requests_are_refused_naming_what_is_wrong(
    tmp_path: Path, make_stack: Callable[..., Awaitable[Any]]
) -> None:
    """What our own client never sends (a field missing, of the wrong type, a body that is
    not JSON) is refused by name; the server answers in the stack's loop, nothing started."""
    stack = await make_stack(tmp_path, '[services.web]\ncommand = ["true"]\nreplicas = 1\n')
    server = ControlServer(SimpleNamespace(verbs=LoopControl(stack)))  # type: ignore[arg-type]
    for method, target, body, said in (
        ("POST", "/scale", b'{"service": "web", "replicas": "many"}', "'replicas' must be int"),
        ("POST", "/scale", b'{"service": "web"}', "lacks 'replicas'"),
        ("POST", "/services/web/kill", b"{not json", "not JSON"),
        ("POST", "/stop", b'{"names": "web"}', "'names' must be a list"),
        ("GET", "/logs?n=ten", b"", "'n' must be int, not 'ten'"),
    ):
        path, _, query = target.partition("?")
        request = Request(method, path, dict([query.split("=")]) if query else {}, body)
        status, answer = await server(request)
        error = codec.error_from_json(answer, status)
        assert status == 400 and isinstance(error, errors.RequestRefused), answer
        assert said in str(error)
    status, answer = await server(Request("POST", "/start", {}, b'{"names": ["ghost"]}'))
    assert status == 404
    assert isinstance(codec.error_from_json(answer, status), errors.UnknownService)
