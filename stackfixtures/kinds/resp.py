"""Just enough of the Redis protocol (RESP2) for readiness, shutdown and per-test cleanup.

Hand-written on purpose: redis-py retries a SHUTDOWN for seconds, and a kind should not need a
client library to tell whether its server is up.
"""

from __future__ import annotations

import asyncio
from typing import Any


class RespError(Exception):
    """The server answered with an error reply (`-ERR ...`)."""


def encode(*args: str | int | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> Any:
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await reader.readexactly(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [await read_reply(reader) for _ in range(n)]
    raise ConnectionError(f"unexpected reply {line!r}")


async def call(
    host: str, port: int, *commands: tuple[str | int | bytes, ...], timeout: float = 2.0
) -> list[Any]:
    """Send `commands` on one connection and return their replies in order."""

    async def go() -> list[Any]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"".join(encode(*c) for c in commands))
            await writer.drain()
            return [await read_reply(reader) for _ in commands]
        finally:
            writer.close()

    async with asyncio.timeout(timeout):
        return await go()


async def shutdown(host: str, port: int, timeout: float = 2.0) -> None:
    """Ask the server to SHUTDOWN (it persists its data first). The reply is the connection
    closing; an error reply means it refused."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(encode("SHUTDOWN"))
        await writer.drain()
        try:
            async with asyncio.timeout(timeout):
                await read_reply(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
    finally:
        writer.close()
