"""What a stack started, written down so that nothing survives it unnoticed.

Each stack keeps a ledger (`processes-STACKID.json` in its state dir: pid, start time and
process group of every process it started) and registers it in a per-user directory, with its
state dir, project and lock. Whoever starts next — `stack run`, `stack down`, a pytest session —
sweeps the ledgers of dead stacks (whose lock is free: see lock.py; those registered
without one are judged by their launcher's pid and start time): it kills recorded processes
whose start time still matches (a reused pid is never touched) and anything carrying the dead
stack's environment marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import StateDirBusy
from .. import private_files
from ..private_dirs import private_dir, user_tmp
from . import containers, lock, swept
from .swept import Leftover

if TYPE_CHECKING:
    import psutil

# psutil (and the reaper, which uses it) is imported where a process is looked at: `stack
# down` sweeps the registry each time, and finds a dead stack's processes to kill only rarely.


def registry_dir() -> Path:
    base = os.environ.get("STACKFIXTURES_REGISTRY")
    if base:
        return private_dir(Path(base))
    return private_dir(user_tmp() / "stacks")


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _atomic_write(path: Path, data: Any) -> None:
    private_files.write(path, json.dumps(data))


def path_for(state_dir: Path, stack_id: str) -> Path:
    """The ledger of stack `stack_id` in its state dir."""
    return Path(state_dir) / f"processes-{stack_id}.json"


class Ledger:
    """The live record of one stack's processes: a file of its own in the state dir (named by
    the stack id: a watchdog or sweeper of an older stack on the same state dir never reads
    this one's), registered in the per-user registry with the lock that says it is alive."""

    def __init__(self, state_dir: Path, stack_id: str, root: Path | None = None) -> None:
        self.path = path_for(state_dir, stack_id)
        self.stack_id = stack_id
        self._lock = threading.Lock()
        self._entries: dict[int, dict[str, Any]] = {}
        self._engines: list[str] = []  # container engines its services used (containers.py)
        self._closed = False
        self.on_record: Callable[[], object] | None = None
        """Called once a process or a container engine is recorded (the stack started one):
        the launcher opens its control socket then, while that first process boots."""
        import psutil

        from .. import state_dirs

        me = psutil.Process()
        self._launcher = {"pid": me.pid, "create_time": me.create_time()}
        state_dirs.make(state_dir, "Ledger")
        holding = lock.mine(state_dir)  # a launcher took it before it made the stack
        self._took = holding is None
        if holding is None:
            holding = lock.hold(state_dir)
        if holding is None:
            raise StateDirBusy(state_dir, lock.holder_pid(state_dir))
        self._holding = holding
        holding.name(stack_id)  # first: the registry entry must never outrun it
        self._registered = {
            "stack_id": stack_id,
            "ledger": str(self.path),
            "state_dir": str(state_dir),
            "lock": str(lock.path_of(state_dir)),
            "root": str(root) if root is not None else "",
            **self._launcher,
        }
        self._flush()
        self._register()

    def _register(self) -> None:
        _atomic_write(registry_dir() / f"{self.stack_id}.json", self._registered)

    def guarded_by(self, pid: int) -> None:
        """Record the stack's watchdog: a sweep of this stack, once it is dead, kills a
        watchdog still there (one paused meanwhile must never wake up and act later)."""
        self._registered["watchdog"] = {"pid": pid, "create_time": _start_time(pid)}
        self._register()

    def add(self, service: str, pid: int, pgid: int) -> None:
        with self._lock:
            self._entries[pid] = {
                "service": service,
                "pid": pid,
                "pgid": pgid,
                "create_time": _start_time(pid),
            }
            self._flush()
        self._recorded()

    def add_engine(self, url: str) -> None:
        """Record a container engine the stack creates containers on (cleanup/containers.py)."""
        with self._lock:
            if url not in self._engines:
                self._engines.append(url)
                self._flush()
        self._recorded()

    def _recorded(self) -> None:
        if self.on_record is not None:
            self.on_record()

    def add_orphan(self, pid: int, pgid: int, of: str = "") -> None:
        """Record a process that escaped its service (adopted by the launcher as subreaper):
        a watchdog or a sweep stops it with the stack's services."""
        with self._lock:
            if self._closed:  # (the stack stopped meanwhile: it stopped this one too)
                return
            self._entries[pid] = {
                "service": f"orphan of {of}" if of else "orphan",
                "pid": pid,
                "pgid": pgid,
                "create_time": _start_time(pid),
                "orphan": True,
            }
            self._flush()

    def recorded(self) -> dict[int, str]:
        """{pid: service} of what the ledger lists now (orphans as "orphan of ...")."""
        with self._lock:
            return {pid: str(e["service"]) for pid, e in self._entries.items()}

    def remove(self, pid: int) -> None:
        with self._lock:
            if self._entries.pop(pid, None) is not None:
                self._flush()

    def _flush(self) -> None:
        data = {
            "stack_id": self.stack_id,
            "launcher": self._launcher,
            "processes": list(self._entries.values()),
            "engines": list(self._engines),
        }
        try:
            _atomic_write(self.path, data)
        except OSError as e:  # a full disk: kept in memory, written again with the next change
            import logging

            logging.getLogger("stackfixtures.ledger").warning("cannot write %s: %s", self.path, e)

    def close(self) -> None:
        """The stack stopped cleanly: nothing of it is left to sweep."""
        with contextlib.suppress(FileNotFoundError):
            (registry_dir() / f"{self.stack_id}.json").unlink()
        with self._lock:
            self._closed = True
            self._entries.clear()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self._took:  # ours alone (an in-process stack): a launcher keeps it until it exits
            self._holding.release()


def recorded(ledger_path: Path) -> list[str]:
    """The services whose processes the ledger still lists (those a dead launcher left to its
    watchdog: what was forced)."""
    try:
        data = json.loads(Path(ledger_path).read_text())
        return sorted({str(p["service"]) for p in data.get("processes", []) if not p.get("orphan")})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _alive(info: dict[str, Any]) -> bool:
    """Whether the registered stack `info` may still be running. Its lock says, when there is
    one to ask; an entry without a lock (written by an older stackfixtures: an in-process
    `sf.Stack` of a pytest session, say) or whose lock file is gone is judged the old way, by
    its launcher's pid and start time (reliable within one PID namespace). An entry that
    cannot be judged at all counts as alive: when in doubt, leave it."""
    if info.get("lock") and os.path.lexists(info["lock"]):
        return lock.alive(Path(info["lock"]), str(info["stack_id"]))
    launcher = {"pid": info.get("pid"), "create_time": info.get("create_time")}
    if launcher["pid"] is None or launcher["create_time"] is None:
        return True
    try:
        int(launcher["pid"]), float(launcher["create_time"])
    except (TypeError, ValueError):
        return True
    return _same_process(launcher) is not None


def _same_process(recorded: dict[str, Any] | None) -> psutil.Process | None:
    """The process `recorded` ({pid, create_time}) names, if it is still that very one."""
    if not recorded or recorded.get("create_time") is None:
        return None
    import psutil

    with contextlib.suppress(psutil.Error, KeyError, TypeError, ValueError):
        p = psutil.Process(int(recorded["pid"]))
        if abs(p.create_time() - float(recorded["create_time"])) < 0.01:
            return p
    return None


def _where(info: dict[str, Any]) -> dict[str, str]:
    """A registered stack's project and state dir (what `swept.whose` says)."""
    state_dir = info.get("state_dir") or str(Path(info["ledger"]).parent)  # (older entries)
    return {"root": str(info.get("root") or ""), "state_dir": str(state_dir)}


def collect(info: dict[str, Any]) -> list[tuple[Leftover, psutil.Process]]:
    """The live leftovers of the dead stack registered as `info`: the processes its ledger
    recorded (start time checked: a reused pid is never touched) and those carrying its
    marker. Only call it for a stack whose lock is free (see `sweep`)."""
    import psutil

    from . import reaper

    stack_id = str(info["stack_id"])
    where = _where(info)
    try:
        entries = json.loads(Path(info["ledger"]).read_text()).get("processes", [])
    except (OSError, ValueError, AttributeError):
        entries = []
    found: dict[int, tuple[Leftover, psutil.Process]] = {}
    for entry in entries:
        p = _same_process(entry)
        if p is None:
            continue  # gone, or the pid now belongs to someone else: never touch it
        with contextlib.suppress(psutil.Error):
            command = " ".join(p.cmdline())[:120]
            found[p.pid] = (Leftover(stack_id, entry["service"], p.pid, command, **where), p)
    for p in reaper.marked(stack_id):
        if p.pid not in found:
            with contextlib.suppress(psutil.Error):
                service = p.environ().get("STACKFIXTURES_SERVICE", "?")
                command = " ".join(p.cmdline())[:120]
                found[p.pid] = (Leftover(stack_id, service, p.pid, command, **where), p)
    return list(found.values())


def owner(pid: int) -> tuple[str, str, Path] | None:
    """(stack id, service, state dir) of the running stack that started `pid` (or its process
    group), found in the ledgers; None when no live stack of this user did."""
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return None
    for entry in sorted(registry_dir().glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = json.loads(entry.read_text())
            if not _alive(info):
                continue
            ledger_path = Path(info["ledger"])
            for p in json.loads(ledger_path.read_text())["processes"]:
                if p["pid"] == pid or p["pgid"] == pgid:
                    return str(info["stack_id"]), str(p["service"]), ledger_path.parent
    return None


def _still_there(p: psutil.Process) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def sweep() -> swept.Swept:
    """Stop every leftover of every dead stack of this user, and remove its containers,
    networks and volumes; returns what went, and what stayed (an engine that did not answer:
    the stack's record is kept for the next sweep).

    A stack is dead when its lock is free (or held by a newer stack of its state dir): never
    by a pid, which another PID namespace sees as someone else's, unless it has no lock to ask
    (see `_alive`). Its watchdog, if it is
    still there (paused?), is killed first: it must never wake up and act on a newer stack.
    """
    done = swept.Swept()
    stopped = done.stopped
    for entry in sorted(registry_dir().glob("*.json")):
        try:
            info = json.loads(entry.read_text())
            if _alive(info):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        import psutil

        from . import reaper

        guard = _same_process(info.get("watchdog"))
        if guard is not None:
            with contextlib.suppress(psutil.Error):
                guard.kill()
        # its containers, on each engine its ledger recorded (cleanup/containers.py)
        stack_id = str(info["stack_id"])
        gone = containers.remove_labelled(containers.engines(Path(info["ledger"])), stack_id)
        if gone.removed or gone.unanswered:
            lost = tuple(gone.unanswered.items())
            done.engines.append(
                swept.OnEngines(
                    stack_id, **_where(info), removed=tuple(gone.removed), unanswered=lost
                )
            )
        leftovers = collect(info)
        if leftovers:
            procs = {p.pid: p for _, p in leftovers}
            for p in list(procs.values()):  # their children go with them
                with contextlib.suppress(psutil.Error):
                    procs.update({c.pid: c for c in p.children(recursive=True)})
            reaper.kill_all(list(procs.values()))
            stopped += [leftover for leftover, _ in leftovers]
            if any(_still_there(p) for p in procs.values()):
                continue  # not all gone (permissions?): try again next time
        if gone.unanswered:
            continue  # its containers may still be there: the next sweep asks again
        ledger_path = Path(info["ledger"])
        if ledger_path.name != "processes.json":  # (one of its own, not a shared one)
            with contextlib.suppress(OSError):
                ledger_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
    return done
