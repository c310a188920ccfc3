"""Where a running stack's control socket is, and whether the stack behind it is still alive.

The launcher writes `control.json` in the state dir (socket path, its stack id, its pid and
start time for messages). Whether it is alive is its lock's to say (_engine/cleanup/lock.py):
a pid means nothing in another PID namespace. A socket whose stack's lock is free is stale:
it is removed, never trusted. A `control.json` is trusted only in the state dir it names (a
copy elsewhere is foreign: ignored, never removed) and while that dir's lock is held by the
stack it names; one whose dir is held by another stack (a newer one starting) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, NamedTuple

from .._engine.cleanup import lock
from .unix import connected

POINTER = "control.json"
PROTOCOL = 2
"""The control protocol's number, in control.json: raised when a route or the error encoding
changes, so a `stack` of one version names a launcher of another instead of failing on a
route it lacks. 1: unnumbered (routes per service for start/stop); 2: `POST /start|/stop` take
a list of names, every StackError crosses by name (issue 23)."""
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux; keep a margin


def socket_path(state_dir: Path) -> Path:
    """In the state dir when the path is short enough, else in a private dir under /tmp."""
    inside = state_dir / "control.sock"
    if len(str(inside)) <= MAX_SOCKET_PATH:
        return inside
    from .._engine.private_dirs import short_path

    return short_path(state_dir, suffix=".sock", digits=16, fits=MAX_SOCKET_PATH)


class Endpoint(NamedTuple):
    """A launcher's `control.json`, as written. (A NamedTuple, as `Starting`: what a dataclass
    gives -- keywords, defaults, equality, frozen -- for a fifth of its cost at import, which
    every `stack status` pays.)"""

    socket: Path
    pid: int
    create_time: float
    stack_id: str
    profile: str
    root: str
    state_dir: str
    started: float
    start_ticks: int | None = None  # the launcher's start in clock ticks (/proc/PID/stat)
    protocol: int = 1  # the control protocol it speaks (1: written before it was numbered)
    version: str = ""  # the stackfixtures it runs ("": not said)

    def mismatch(self) -> str | None:
        """Why this `stack` cannot talk to that launcher, if they speak different protocols."""
        if self.protocol == PROTOCOL:
            return None
        which = (
            f"the launcher of stackfixtures {self.version}"
            if self.version
            else "a launcher of an earlier stackfixtures"
        )
        return (
            f"the stack in {self.state_dir} runs {which} (protocol {self.protocol}); "
            f"this `stack` speaks protocol {PROTOCOL}: restart the stack (stack down && stack up)"
        )

    def alive(self) -> bool:
        """The stack that wrote this still runs: its lock is held, by this stack (which names
        itself in the lock before it publishes this)."""
        found = lock.holder(Path(self.state_dir))
        return found is not None and found.stack_id == self.stack_id

    def same_process(self) -> bool:
        """Whether `pid` is, in our PID namespace, the launcher that wrote this (same start):
        only then may we look at its state or signal it."""
        if self.start_ticks is not None and Path("/proc/self/stat").exists():
            return start_ticks(self.pid) == self.start_ticks  # no psutil: commands start faster
        import psutil

        try:
            return abs(psutil.Process(self.pid).create_time() - self.create_time) < 0.01
        except psutil.Error:
            return False

    def stuck(self) -> str | None:
        """Why the launcher cannot answer, when we can tell (our PID namespace): it is stopped
        (SIGSTOP, or a debugger). None otherwise."""
        if not self.same_process() or process_state(self.pid) not in ("T", "t"):
            return None
        return f"launcher pid {self.pid} is stopped (SIGSTOP?)"

    def answers(self) -> bool:
        try:
            with connected(str(self.socket), 1.0):
                return True
        except OSError:
            return False


def start_ticks(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (Linux), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split()[19])  # field 22, counted after the name


def resume_hint(pid: int) -> str:
    return f"; resume it with `kill -CONT {pid}`, or stop the stack with `stack down --force`"


def process_state(pid: int) -> str | None:
    """The state letter of process `pid` (/proc/PID/stat: R, S, T, Z, ...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[0].decode()


def publish(state_dir: Path, sock: Path, stack_id: str, profile: str, root: Path) -> None:
    import psutil

    from .._engine import private_files

    me = psutil.Process()
    data = {
        "socket": str(sock),
        "pid": me.pid,
        "create_time": me.create_time(),
        "start_ticks": start_ticks(me.pid),
        "stack_id": stack_id,
        "profile": profile,
        "root": str(root),
        "state_dir": str(state_dir),
        "started": time.time(),
        "protocol": PROTOCOL,
        "version": _version(),
    }
    private_files.write(state_dir / POINTER, json.dumps(data))  # 0600, whole, no planted name


def _version() -> str:
    """stackfixtures' version: from the name of its metadata dir on sys.path (the compiled
    profile's key lists it), else from importlib.metadata, whose import and look-up cost the
    launcher ~50 ms of CPU while its first services boot."""
    from .._project.compiled import installed

    for _place, name, _entry_points in installed():
        if name.startswith("stackfixtures-") and name.endswith(".dist-info"):
            return name.removeprefix("stackfixtures-").removesuffix(".dist-info")
    from importlib import metadata

    try:
        return metadata.version("stackfixtures")
    except metadata.PackageNotFoundError:
        return ""


def withdraw(state_dir: Path, sock: Path) -> None:
    """Remove a stack's socket and pointer: only a socket where this state dir's socket goes
    and a plain pointer file (a control.json naming any other path, e.g. one planted to make
    root unlink /etc/shadow, removes nothing else)."""
    for path, kind in ((sock, stat.S_ISSOCK), (state_dir / POINTER, stat.S_ISREG)):
        if path == sock and path != socket_path(state_dir):
            continue
        with contextlib.suppress(OSError):
            if kind(path.lstat().st_mode):
                path.unlink()


def read(state_dir: Path) -> Endpoint | None:
    """The `control.json` of `state_dir`, when it is that dir's own (a copy of another's,
    naming another state dir, is foreign: None)."""
    try:
        data: dict[str, Any] = json.loads((state_dir / POINTER).read_text())
        if not _well_formed(data):
            return None
        if os.path.realpath(data["state_dir"]) != os.path.realpath(state_dir):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Endpoint(
        socket=Path(data["socket"]),
        pid=data["pid"],
        create_time=data["create_time"],
        stack_id=data["stack_id"],
        profile=data["profile"],
        root=data["root"],
        state_dir=data["state_dir"],
        started=data["started"],
        start_ticks=data.get("start_ticks"),
        protocol=data["protocol"] if isinstance(data.get("protocol"), int) else 1,
        version=data["version"] if isinstance(data.get("version"), str) else "",
    )


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "socket": str,
    "pid": int,
    "create_time": (int, float),
    "stack_id": str,
    "profile": str,
    "root": str,
    "state_dir": str,
    "started": (int, float),
}


def _well_formed(data: object) -> bool:
    """A pointer as `publish` writes it (anything else, e.g. `{}` or `[1]`, is not one)."""
    if not isinstance(data, dict):
        return False
    ticks = data.get("start_ticks")
    return all(isinstance(data.get(k), t) for k, t in _FIELDS.items()) and (
        ticks is None or isinstance(ticks, int)
    )


class Starting(NamedTuple):
    """A stack whose lock is held but whose control socket does not answer (yet): `pid` is
    what its holder wrote (the launcher once `stack up` started it, `stack up` before);
    `here`: that pid is, in our PID namespace, a process holding the lock file open."""

    state_dir: Path
    pid: int | None
    here: bool
    stopped: bool

    def __str__(self) -> str:
        if self.stopped:
            return (
                f"launcher pid {self.pid} is stopped (SIGSTOP?) while it starts the stack with "
                f"state dir {self.state_dir}" + resume_hint(self.pid or 0)
            )
        by = f" (launcher pid {self.pid})" if self.pid else ""
        return f"a stack is starting with state dir {self.state_dir}{by}"


def starting(state_dir: Path) -> Starting | None:
    """The stack starting with `state_dir` (its lock held), None when its lock is free."""
    found = lock.holder(state_dir)
    if found is None:
        return None
    here = found.pid is not None and lock.open_by(found.pid, state_dir)
    stopped = here and process_state(found.pid or 0) in ("T", "t")
    return Starting(state_dir, found.pid, here, stopped)


def _none_running(state_dir: Path) -> str:
    return str(starting(state_dir) or f"no stack is running with state dir {state_dir}")


def find(state_dir: Path) -> tuple[Endpoint | None, str]:
    """The live endpoint of the stack using `state_dir`, or None and why not (a stale one
    left by a dead launcher is removed here; a foreign one, a copy or another stack's, is
    ignored)."""
    ep = read(state_dir)
    if ep is None:
        return None, _none_running(state_dir)
    if ep.alive():  # its launcher is there: never delete its files, even if slow to answer
        if ep.answers():
            return ep, ""
        stuck = ep.stuck()
        if stuck:
            return None, stuck + resume_hint(ep.pid)
        return None, f"the stack with state dir {state_dir} (pid {ep.pid}) does not answer"
    if lock.held(state_dir):  # another stack's (a newer one starting): not ours to remove
        return None, _none_running(state_dir)
    if read(state_dir) == ep:  # still the dead launcher's pointer, not a new one's
        withdraw(state_dir, ep.socket)
    return None, (
        f"the stack that ran with state dir {state_dir} (pid {ep.pid}) is gone; "
        "removed its stale control socket"
    )
