"""Free loopback ports, leased under a file lock so concurrent stacks never get the same one."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path

from filelock import FileLock

LEASE_SECONDS = 60.0
"""How long a handed-out port stays reserved for the service that asked, so it has time to bind."""


def _lease_file() -> Path:
    base = Path(os.environ.get("STACKFIXTURES_PORTS_DIR") or tempfile.gettempdir())
    return base / f"stackfixtures-ports-{os.getuid()}.json"


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


def allocate_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now and not leased to anyone else in the last LEASE_SECONDS."""
    path = _lease_file()
    with FileLock(str(path) + ".lock", timeout=30):
        try:
            leases: dict[str, float] = json.loads(path.read_text())
        except (OSError, ValueError):
            leases = {}
        now = time.time()
        leases = {p: t for p, t in leases.items() if now - t < LEASE_SECONDS}
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = int(s.getsockname()[1])
            if str(port) not in leases and bindable(port, host):
                break
        else:  # pragma: no cover - only on an exhausted port range
            raise OSError("no free loopback port found")
        leases[str(port)] = now
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(leases))
        tmp.replace(path)
    return port
