"""Who made a per-test database: an owner token in its name (a hash of this host's name, the
pid and the start time of the process that made it). A process killed before it dropped its
clones (a SIGKILLed pytest beside a server that outlives it: `--stack-reuse`, `stack up`)
leaves them behind; the next pool on that server finds them by name and drops them -- only
names of exactly this pattern, of this host and pid namespace, whose process is gone (no
process with that pid, or one started at another time)."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import socket
import uuid
from collections.abc import Iterable

import psutil

PATTERN = re.compile(r"^(test|tx)_([0-9a-f]{6})_(\d+)_(\d+)_[0-9a-f]{8}$")
LISTED = r"^(test|tx)_[0-9a-f]{6}_"  # the server-side filter (PATTERN decides)


@functools.cache
def _host() -> str:
    """This host and pid namespace: a pid means this process only here (a container of the
    same hostname, with pids of its own, gets another token; its clones are never ours)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()} {namespace}".encode()).hexdigest()[:6]


def _started(pid: int) -> int:
    return int(psutil.Process(pid).create_time())


def new_name(prefix: str) -> str:
    """A database name for `prefix` ("test" or "tx") owned by this process."""
    pid = os.getpid()
    return f"{prefix}_{_host()}_{pid}_{_started(pid)}_{uuid.uuid4().hex[:8]}"


def _alive(pid: int, started: int) -> bool:
    try:
        return _started(pid) == started
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # cannot tell (access denied): kept
        return True


def orphans(names: Iterable[str]) -> list[str]:
    """Those of `names` that this host's processes made and that are gone."""
    host = _host()
    found = []
    for name in names:
        m = PATTERN.match(name)
        if m is not None and m[2] == host and not _alive(int(m[3]), int(m[4])):
            found.append(name)
    return found
