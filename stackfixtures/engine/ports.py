"""Free loopback ports, leased under a file lock so concurrent stacks never get the same one."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

LEASE_SECONDS = 60.0
"""How long a handed-out port stays reserved for the service that asked, so it has time to bind."""


def _lease_file() -> Path:
    base = Path(os.environ.get("STACKFIXTURES_PORTS_DIR") or tempfile.gettempdir())
    return base / f"stackfixtures-ports-v2-{os.getuid()}.json"  # v2: leases name their owner


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` on `host` is free right now (for a server that sets SO_REUSEADDR, as
    servers do, so a port in TIME_WAIT after a restart counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def allocate_port(host: str = "127.0.0.1", prefer: int | None = None, owner: str = "") -> int:
    """A port free on `host` now and not leased to anyone else in the last LEASE_SECONDS:
    `prefer` when it is (the port `owner`, a service's state dir, had last time), else any."""
    path = _lease_file()
    with FileLock(str(path) + ".lock", timeout=30):
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            raw = {}
        now = time.time()
        leases = {p: (float(v["t"]), str(v["owner"])) for p, v in raw.items()}
        leases = {p: v for p, v in leases.items() if now - v[0] < LEASE_SECONDS}
        ours = bool(prefer) and leases.get(str(prefer), (0.0, owner))[1] == owner
        reuse = prefer is not None and ours and bindable(prefer, host)
        port = prefer if reuse and prefer is not None else _any_free(host, leases)
        leases[str(port)] = (now, owner)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({p: {"t": t, "owner": o} for p, (t, o) in leases.items()}))
        tmp.replace(path)
    return port


def _any_free(host: str, leases: dict[str, tuple[float, str]]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if str(port) not in leases and bindable(port, host):
            return port
    raise OSError("no free loopback port found")  # pragma: no cover - an exhausted port range
