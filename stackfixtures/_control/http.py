"""A small HTTP/1.1 server on a Unix domain socket, built on h11 (which parses HTTP; asyncio
does the I/O). Handlers take a Request and return (status, body); bodies are JSON or text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11

from .._engine.tasks import TaskOwner
from ..errors import UnsafePath

log = logging.getLogger("stackfixtures.control")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


Reply = tuple[int, Any]  # (status, dict/list for JSON, or str for text/plain)
Handler = Callable[[Request], Awaitable[Reply]]


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(65536))


async def _serve_connection(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.ConnectionClosed) or event is None:
                return
            if not isinstance(event, h11.Request):
                return
            body = b""
            while True:
                part = await _next_event(conn, reader)
                if isinstance(part, h11.Data):
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return
            target = urlsplit(event.target.decode())
            query = {k: v[-1] for k, v in parse_qs(target.query).items()}
            request = Request(event.method.decode(), target.path, query, body)
            try:
                status, payload = await handler(request)
            except Exception as e:  # a handler bug must not take the launcher down
                log.exception("control request %s %s failed", request.method, request.path)
                status, payload = 500, {"error": f"{type(e).__name__}: {e}"}
            if isinstance(payload, str):
                data, ctype = payload.encode(), "text/plain; version=0.0.4; charset=utf-8"
            else:
                data, ctype = json.dumps(payload, default=str).encode(), "application/json"
            writer.write(
                conn.send(
                    h11.Response(
                        status_code=status,
                        headers=[("content-type", ctype), ("content-length", str(len(data)))],
                    )
                )
            )
            writer.write(conn.send(h11.Data(data=data)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
        return
    finally:  # a cancellation (the server closing mid-verb) is raised after the close: its
        writer.close()  # owner (`connections`) awaits it
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def serve_unix(path: Path, handler: Handler, connections: TaskOwner) -> asyncio.Server:
    """Listen on `path`, mode 0600: only its owner may control the stack. Bound, made 0600,
    and only then listened on: nobody can connect before it is private (a bound socket that
    does not listen refuses every connection), and the process-wide umask is never changed
    (services start meanwhile: a file one makes would get the wrong mode).

    Each connection (and the verb it runs) is a task of `connections`, whose `aclose` cancels
    and awaits them: asyncio's own connection tasks have no owner, and Python 3.11 logs one
    that ends cancelled as "Exception in callback"."""

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if connections.closed:  # closing: no new request starts
            writer.close()
            return
        connections.spawn(_serve_connection(handler, reader, writer), "connection")

    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        if not stat.S_ISSOCK(path.lstat().st_mode):  # chmod follows links: only our socket
            raise UnsafePath(f"{path} is not the socket just bound there; refusing to chmod it")
        path.chmod(0o600)
        return await asyncio.start_unix_server(connected, sock=sock)
    except BaseException:
        sock.close()
        raise
