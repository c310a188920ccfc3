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

from stackfixtures import errors
from stackfixtures._control import codec
from stackfixtures._control.http import Request, serve_unix
from stackfixtures._control.local import LoopControl
from stackfixtures._control.server import ControlServer

PROFILE = '[services.web]\ncommand = ["true"]\nreplicas = 1\n'


def server_for(stack: Any) -> ControlServer:
    return ControlServer(SimpleNamespace(verbs=LoopControl(stack)))  # type: ignore[arg-type]


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
    threads = threading.active_count()
    polls = [
        asyncio.create_task(server(Request("GET", "/events", {"wait": "60"}, b"")))
        for _ in range(40)
    ]
    try:
        await asyncio.sleep(0.1)  # every poll is waiting now
        assert not any(p.done() for p in polls)
        assert threading.active_count() == threads
        async with asyncio.timeout(10):  # (a bound: it answers at once)
            status, answer = await server(Request("GET", "/status", {}, b""))
        assert status == 200 and [s["name"] for s in answer["services"]] == ["web"]
    finally:
        for p in polls:
            p.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
