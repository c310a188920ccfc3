"""The control server, in this process: its socket opens without touching the process's
umask, it refuses a malformed request by name, and it awaits the verbs in the stack's own loop
(a long poll holds no thread). No process is started: the stacks here run nothing."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackfixtures import errors
from stackfixtures._control import codec
from stackfixtures._control.http import Request, serve_unix
from stackfixtures._control.local import LoopControl
from stackfixtures._control.server import ControlServer
from stackfixtures._engine.tasks import TaskOwner

PROFILE = '[services.web]\ncommand = ["true"]\nreplicas = 1\n'


def pool_threads() -> set[str]:
    """The worker threads a verb could be run in: the loop's default executor's (`asyncio_N`,
    what to_thread uses), any ThreadPoolExecutor's, and the verbs' own pool as it once was."""
    pools = ("asyncio_", "ThreadPoolExecutor", "stack-control")
    return {t.name for t in threading.enumerate() if t.name.startswith(pools)}


def server_for(stack: Any) -> ControlServer:
    return ControlServer(SimpleNamespace(verbs=LoopControl(stack)))  # type: ignore[arg-type]


async def test_files_made_while_the_socket_opens_keep_the_umask(tmp_path: Path) -> None:
    """A service spawned (or a state file written) while the launcher opens its control
    socket gets the process's umask, not the socket's private mode; the socket is 0600."""

    async def answer(request: Request) -> tuple[int, Any]:
        return 200, {"path": request.path}

    made: list[int] = []
    opened = False
    connections = TaskOwner("test")

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
        server = await serve_unix(tmp_path / "control.sock", answer, connections)
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
        await connections.aclose()


async def test_malformed_requests_are_refused_naming_what_is_wrong(
    tmp_path: Path, make_stack: Callable[..., Awaitable[Any]]
) -> None:
    """What our own client never sends (a field missing, of the wrong type, a body that is
    not JSON) is refused by name; the server answers in the stack's loop, nothing started."""
    server = server_for(await make_stack(tmp_path, PROFILE))
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


async def test_long_polls_hold_no_thread(
    tmp_path: Path, make_stack: Callable[..., Awaitable[Any]]
) -> None:
    """Forty `events -f` waiting at once (more than the 32 worker threads the verbs once ran
    in): no thread is started for them, and a status is answered meanwhile."""
    server = server_for(await make_stack(tmp_path, PROFILE))
    threads = pool_threads()
    polls = [
        asyncio.create_task(server(Request("GET", "/events", {"wait": "60"}, b"")))
        for _ in range(40)
    ]
    try:
        await asyncio.sleep(0.1)  # every poll is waiting now
        assert not any(p.done() for p in polls)
        assert pool_threads() == threads  # (other threads of the process may come and go)
        async with asyncio.timeout(10):  # (a bound: it answers at once)
            status, answer = await server(Request("GET", "/status", {}, b""))
        assert status == 200 and [s["name"] for s in answer["services"]] == ["web"]
    finally:
        for p in polls:
            p.cancel()
        await asyncio.gather(*polls, return_exceptions=True)


async def test_a_verb_cancelled_mid_way_is_cancelled_and_awaited(tmp_path: Path) -> None:
    """Closing the server cancels a verb still running in its connection: the verb sees the
    cancellation, and the connection's task ends cancelled (never swallowed), awaited."""
    entered, seen = asyncio.Event(), []

    async def verb(request: Request) -> tuple[int, Any]:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return 200, {}

    connections = TaskOwner("test")
    server = await serve_unix(tmp_path / "control.sock", verb, connections)
    reader, writer = await asyncio.open_unix_connection(str(tmp_path / "control.sock"))
    try:
        writer.write(b"POST /stop HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        async with asyncio.timeout(10):
            await entered.wait()
        [task] = connections.running()
        server.close()
        await server.wait_closed()
        await connections.aclose()
        assert seen == ["cancelled"] and task.cancelled()
        assert await reader.read() == b""  # the connection was closed, no answer sent
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_verbs_task_group_error_arrives_as_its_stack_error() -> None:
    """A TaskGroup inside a verb wraps its one error in a group: the client gets the error."""

    async def restart(name: str) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0))
            raise errors.UnknownService(name, ["web"])

    verbs = SimpleNamespace(restart=restart)
    server = ControlServer(SimpleNamespace(verbs=verbs))  # type: ignore[arg-type]
    status, answer = await server(Request("POST", "/services/ghost/restart", {}, b""))
    assert status == 404 and isinstance(
        codec.error_from_json(answer, status), errors.UnknownService
    )


async def test_the_engine_refuses_zero_replicas_as_the_controls_do(
    tmp_path: Path, make_stack: Callable[..., Awaitable[Any]]
) -> None:
    """Stack.scale itself refuses 0 replicas with RequestRefused (not ValueError): the same
    error in Python as through either control. Refused before anything starts."""
    stack = await make_stack(tmp_path, PROFILE)
    with pytest.raises(errors.RequestRefused, match="at least 1") as info:
        await stack.scale("web", 0)
    assert info.value.status == 400
