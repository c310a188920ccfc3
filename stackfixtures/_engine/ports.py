"""Free loopback ports, leased under a file lock so concurrent stacks never get the same one.

The leases (`ports.json`) and their lock live in this user's private dir (user_tmp(), or
`$STACKFIXTURES_PORTS_DIR`, checked the same way), never by a guessable name in shared /tmp:
a symlink planted there could make root write through it."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock

from . import private_files
from .private_dirs import private_dir, private_file, user_tmp

LEASE_SECONDS = 60.0
"""How long a handed-out port stays reserved for the service that asked, so it has time to bind."""


def _lease_file() -> Path:
    """`ports.json` in a private dir; refused (UnsafePath) if the dir, the file or its lock is
    anything but ours alone."""
    base = os.environ.get("STACKFIXTURES_PORTS_DIR")
    path = (private_dir(Path(base)) if base else user_tmp()) / "ports.json"
    private_file(path.with_name(path.name + ".lock"))
    return private_file(path)


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
        now = time.time()
        leases = {p: v for p, v in _read(path).items() if now - v[0] < LEASE_SECONDS}
        ours = bool(prefer) and leases.get(str(prefer), (0.0, owner))[1] == owner
        reuse = prefer is not None and ours and bindable(prefer, host)
        port = prefer if reuse and prefer is not None else _any_free(host, leases)
        leases[str(port)] = (now, owner)
        private_files.write(
            path, json.dumps({p: {"t": t, "owner": o} for p, (t, o) in leases.items()})
        )
    return port


def _read(path: Path) -> dict[str, tuple[float, str]]:
    """The leases written in `path` (none when it is missing or not what this module writes)."""
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        return {p: (float(v["t"]), str(v["owner"])) for p, v in raw.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _any_free(host: str, leases: dict[str, tuple[float, str]]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if str(port) not in leases and bindable(port, host):
            return port
    raise OSError("no free loopback port found")  # pragma: no cover - an exhausted port range
