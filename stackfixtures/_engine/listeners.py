"""Who listens on a port: so that a fixed port already taken fails at once, naming the holder,
and a readiness probe that reached somebody else's server never marks a service ready."""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import struct
from dataclasses import dataclass

import psutil

from .cleanup import ledger
from .cleanup.reaper import marks

_SOCK_DIAG, _BY_FAMILY, _DUMP_REQUEST, _TCP_LISTEN = 4, 20, 0x301, 10
_DONE, _ERROR = 3, 2


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the TCP sockets listening on `port`, asked of the kernel over netlink
    (sock_diag, LISTEN state only: ~0.3 ms where reading /proc/net/tcp takes ~8 ms here, and
    a service's readiness waits on it). None where netlink is not available (not Linux)."""
    found: set[str] = set()
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _SOCK_DIAG) as nl:
            for family in (socket.AF_INET, socket.AF_INET6):
                # inet_diag_req_v2: family, protocol, ext, pad, states; then a zeroed sockid
                req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN)
                req += bytes(48)
                nl.send(struct.pack("=IHHII", 16 + len(req), _BY_FAMILY, _DUMP_REQUEST, 1, 0) + req)
                found |= _read_dump(nl, port)
    except (OSError, AttributeError, struct.error):
        return None
    return found


def _read_dump(nl: socket.socket, port: int) -> set[str]:
    """The inodes of the inet_diag_msg answers whose source port is `port`."""
    found: set[str] = set()
    while True:
        data = nl.recv(65536)
        offset = 0
        while offset < len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == _ERROR and struct.unpack_from("=i", data, offset + 16)[0] != 0:
                raise OSError("sock_diag refused the request")  # then psutil answers instead
            if kind in (_DONE, _ERROR):
                return found
            body = offset + 16  # after the nlmsghdr; sport at +4 (big endian), inode at +68
            if struct.unpack_from("!H", data, body + 4)[0] == port:
                found.add(str(struct.unpack_from("=I", data, body + 68)[0]))
            offset += (length + 3) & ~3


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def _listens(proc: psutil.Process, port: int, inodes: set[str] | None = None) -> bool:
    if inodes is not None:
        return bool(inodes & _socket_inodes(proc.pid))
    with contextlib.suppress(psutil.Error, OSError):
        for c in proc.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port:
                return True
    return False


def _listeners(port: int) -> list[int | None]:
    """Pids listening on `port` (None for those this user cannot see)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return []
    return [
        c.pid for c in conns if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    ]


@dataclass(frozen=True)
class Holder:
    """Who holds a port, and what the person reading the error can do about it."""

    who: str
    remedy: str = "stop that process or choose another port"


def describe(pid: int | None, stack_id: str | None = None) -> Holder:
    """`pid 1234 (postgres)` (with its service, and its state dir when another stack of ours
    started it; `stack_id` is the asking stack's), or a note that it is not visible to us."""
    if pid is None:
        return Holder("a process of another user (not visible without privileges)")
    try:
        who = f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return Holder(f"pid {pid}")
    found = ledger.owner(pid)
    if found is None:
        return Holder(who)
    other, service, state_dir = found
    if other == stack_id:  # two services of one stack given the same port
        return Holder(f"{who}, service {service!r} of this stack", "give each its own port")
    # the usual case: `stack up` runs, and a second stack (plain pytest) wants the same port
    where = shlex.quote(str(state_dir))
    return Holder(
        f"{who}, service {service!r} of the stack in {state_dir}",
        f"stop that stack (`stack down --state-dir {where}`), or run under it "
        f"(`stack exec --state-dir {where} -- pytest`)",
    )


def holder(port: int, stack_id: str | None = None) -> Holder:
    """Who holds `port`, for an error message (an empty `who` when nobody visible listens)."""
    pids = _listeners(port)
    return describe(pids[0], stack_id) if pids else Holder("")


def foreign_listener(pids: list[int], port: int, stack_id: str) -> Holder | None:
    """None when `port` is served by one of `pids`, their children, or any process carrying
    this stack's marker (a daemon that left the group), or when nothing listens on it at all;
    else who is listening there instead."""
    inodes = _listening_inodes(port)
    if inodes is not None and not inodes:
        return None  # nothing listens there: the probe checked something else
    own = [p for pid in pids if (p := _process(pid)) is not None]
    if any(_listens(p, port, inodes) for p in own):  # the common case: the main process
        return None
    for p in own:
        with contextlib.suppress(psutil.Error):
            if any(_listens(c, port, inodes) for c in p.children(recursive=True)):
                return None
    others = _listeners(port)
    if not others:
        return None
    for pid in others:
        if pid is not None and _ours(pid, stack_id):
            return None
    return describe(others[0], stack_id)


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _ours(pid: int, stack_id: str) -> bool:
    mark = marks(pid)
    return mark is not None and mark[0] == stack_id


__all__ = ["Holder", "describe", "foreign_listener", "holder"]
