"""A Unix socket that forwards every connection to another (`python -m tests.unix_proxy LISTEN
TARGET`): an engine a test can take away and bring back (stop this process by its pid, start
it again) while the engine itself, shared by other tests, runs on. Bytes both ways, half-closes
passed on: Docker's HTTP, its streamed logs and hijacked connections go through as they are.
SIGUSR1 freezes the followed logs (`/logs?...follow=1`) already streaming: nothing more of them
reaches the client, not even their end (an engine that hangs one stream), the rest goes on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

FROZEN = asyncio.Event()


def _follows(request: bytes) -> bool:
    line = request.split(b"\r\n", 1)[0]
    return b"/logs?" in line and b"follow=1" in line


async def _pump(
    src: asyncio.StreamReader,
    dst: asyncio.StreamWriter,
    sent: list[bytes],
    watch: list[bytes] | None = None,
) -> None:
    """src to dst; what it carries appended to `sent` (the client's requests), or, with
    `watch` (the engine's answers to those), held for good once frozen if they follow a log."""
    with contextlib.suppress(OSError):
        while chunk := await src.read(65536):
            sent.append(chunk)
            if watch is not None and FROZEN.is_set() and any(map(_follows, watch)):
                await asyncio.Event().wait()  # frozen: held until the proxy is stopped
            dst.write(chunk)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


async def _serve(listen: str, target: str) -> None:
    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(target)
        except OSError:
            writer.close()
            return
        asked: list[bytes] = []
        try:
            await asyncio.gather(
                _pump(reader, up_writer, asked), _pump(up_reader, writer, [], asked)
            )
        finally:
            up_writer.close()
            writer.close()

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, FROZEN.set)
    server = await asyncio.start_unix_server(one, path=listen)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


def start(listen: Path, target: str) -> subprocess.Popen[str]:
    """The proxy from `listen` to the engine socket `target` (a unix:// URL or a path), once it
    listens. Its owner stops it by its pid (`stop`)."""
    with contextlib.suppress(FileNotFoundError):
        listen.unlink()  # (its previous run's socket file)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.unix_proxy", str(listen), target.removeprefix("unix://")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


if __name__ == "__main__":
    os.umask(0o077)
    asyncio.run(_serve(sys.argv[1], sys.argv[2]))
