"""Just enough of the NATS protocol for readiness and per-test cleanup.

Hand-written on purpose: nats-py hangs when it connects to a port that is not listening yet, and
a raw INFO line tells at once whether the server is up and has JetStream on.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any


async def info(host: str, port: int, timeout: float = 1.0) -> dict[str, Any]:
    """The server's INFO object, the first line it sends to any client."""

    async def go() -> dict[str, Any]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            line = await reader.readline()
        finally:
            writer.close()
        if not line.startswith(b"INFO "):
            raise ConnectionError(f"not a NATS server: {line[:40]!r}")
        data: dict[str, Any] = json.loads(line[5:])
        return data

    async with asyncio.timeout(timeout):
        return await go()


async def request(
    host: str,
    port: int,
    subject: str,
    payload: bytes = b"",
    timeout: float = 2.0,
    info: dict[str, Any] | None = None,
) -> bytes:
    """Publish `payload` to `subject` with a reply inbox and return the first reply's payload.
    Pass a dict as `info` to receive the server's INFO from the same connection."""

    async def go() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            line = await reader.readline()
            if not line.startswith(b"INFO "):
                raise ConnectionError(f"not a NATS server: {line[:40]!r}")
            if info is not None:
                info.update(json.loads(line[5:]))
            inbox = f"_INBOX.{uuid.uuid4().hex}"
            writer.write(
                b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'
                + f"SUB {inbox} 1\r\n".encode()
                + f"PUB {subject} {inbox} {len(payload)}\r\n".encode()
                + payload
                + b"\r\n"
            )
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    raise ConnectionError("connection closed")
                if line.startswith(b"PING"):
                    writer.write(b"PONG\r\n")
                elif line.startswith(b"-ERR"):
                    raise ConnectionError(line.decode().strip())
                elif line.startswith(b"MSG "):
                    size = int(line.split()[-1])
                    data = await reader.readexactly(size + 2)
                    return data[:-2]
        finally:
            writer.close()

    async with asyncio.timeout(timeout):
        return await go()


async def jetstream(
    host: str,
    port: int,
    api: str,
    body: dict[str, Any] | None = None,
    timeout: float = 2.0,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Call a JetStream API subject (`INFO`, `STREAM.NAMES`, `STREAM.DELETE.x`); raise on error."""
    raw = await request(
        host, port, f"$JS.API.{api}", json.dumps(body).encode() if body else b"", timeout, info
    )
    data: dict[str, Any] = json.loads(raw)
    if "error" in data:
        raise ConnectionError(f"JetStream {api}: {data['error'].get('description', data['error'])}")
    return data
