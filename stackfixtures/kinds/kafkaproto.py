"""Just enough of the Kafka protocol to fetch cluster metadata (Metadata v4) for readiness.

Hand-written: the only other way is a full client library for one request.
"""

from __future__ import annotations

import asyncio
import struct


def _string(data: bytes, at: int) -> tuple[str | None, int]:
    (n,) = struct.unpack_from(">h", data, at)
    at += 2
    if n < 0:
        return None, at
    return data[at : at + n].decode(), at + n


async def brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """The brokers the cluster reports: `[(node_id, host, port), ...]`."""

    async def go() -> list[tuple[int, str, int]]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            client = b"stackfixtures"
            header = struct.pack(">hhih", 3, 4, 1, len(client)) + client
            body = struct.pack(">i?", -1, False)  # all topics, no auto-creation
            payload = header + body
            writer.write(struct.pack(">i", len(payload)) + payload)
            await writer.drain()
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            data = await reader.readexactly(size)
        finally:
            writer.close()
        at = 4 + 4  # correlation id, throttle time
        (count,) = struct.unpack_from(">i", data, at)
        at += 4
        found = []
        for _ in range(count):
            (node,) = struct.unpack_from(">i", data, at)
            bhost, at = _string(data, at + 4)
            (bport,) = struct.unpack_from(">i", data, at)
            _, at = _string(data, at + 4)  # rack
            found.append((node, bhost or "", bport))
        return found

    async with asyncio.timeout(timeout):
        return await go()
