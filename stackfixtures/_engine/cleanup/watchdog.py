"""The watchdog: a tiny process per stack, in a session of its own, that outlives a launcher
killed with SIGKILL and stops everything the stack started, within milliseconds.

The launcher holds the write end of a pipe whose read end is the watchdog's stdin. When the
launcher dies, however it dies, the pipe closes; the watchdog then kills the process groups in
the stack's ledger and every process carrying its marker (grandchildren that left the group
included). Direct children also die by their own parent-death signal; this catches the rest.

A launcher that stopped everything itself (and swept what left the groups: `Stack.close()`'s
sweep) writes DONE first: the watchdog then exits at once, importing nothing, and the launcher
reaps it (`stop`), so that the stack's processes end within milliseconds of its last service.
The watchdog learns of either end by the pipe's EOF: an event, never a poll.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the watchdog process itself imports almost nothing while it waits
    import subprocess

    from .ledger import Ledger


def start(ledger: Ledger) -> subprocess.Popen[bytes]:
    """Start the watchdog for a stack (call from the launcher, keep the returned object). It
    is recorded in the stack's registry entry: a sweep after the stack died kills it if it is
    still there (paused, say), so that it never acts on a later stack of the same state dir."""
    import subprocess

    module = "stackfixtures._engine.cleanup.watchdog"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(ledger.path), ledger.stack_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    ledger.guarded_by(proc.pid)
    return proc


DONE = b"done"
"""What the launcher writes before closing the pipe when it stopped everything itself."""


def stop(proc: subprocess.Popen[bytes], wait: bool = True) -> None:
    """The launcher stopped every service and swept what left their groups: let the watchdog
    go. Told so, it exits at once; `wait` reaps it (bounded: see `reap`), so that it is gone
    when we are. `wait=False`: the caller reaps it later (`reap`), after its own bookkeeping."""
    if proc.stdin is not None:
        try:
            proc.stdin.write(DONE)
            proc.stdin.flush()
        except OSError:
            pass  # already gone
        with contextlib.suppress(OSError):  # (close flushes again what a failed write left)
            proc.stdin.close()
    if wait:
        reap(proc)


def reap(proc: subprocess.Popen[bytes], timeout: float = 2.0) -> bool:
    """Wait (at most `timeout` seconds) until the watchdog, told DONE or that we died, has
    exited, and reap it; whether it did. Its exit is an event (its pidfd turns readable), not
    a poll. One stopped (SIGSTOP), or still there after `timeout`, is not waited for: told
    DONE, it only exits once it runs again (and one of a dead stack is killed by the sweep)."""
    import select

    if proc.returncode is not None:
        return True
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # reaped already, or no pidfds (Linux < 5.3): Popen's own bounded wait
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        return proc.returncode is not None
    try:
        if not _stopped(proc.pid):  # (a paused one would only keep us: it exits once resumed)
            select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return proc.poll() is not None


def _stopped(pid: int) -> bool:
    """Whether process `pid` is stopped (SIGSTOP, a debugger): /proc/PID/stat's state."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"T", b"t")


def same_leader(entry: dict[str, object]) -> bool:
    """True unless the recorded pid is alive with another start time (a reused pid)."""
    import psutil

    try:
        started = psutil.Process(int(str(entry["pid"]))).create_time()
    except psutil.Error:
        return True  # the leader is gone; what is left of its group is ours
    recorded = entry.get("create_time")
    return recorded is None or abs(started - float(str(recorded))) < 0.01


def main() -> None:
    ledger, stack_id = sys.argv[1], sys.argv[2]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # group signals are for the launcher, not us
    said = b""
    while chunk := os.read(0, 4096):  # b"" once the launcher's end is closed
        said = (said + chunk)[-len(DONE) :]
    if said == DONE:  # the launcher stopped and swept everything: nothing left for us to do
        os._exit(0)  # (nothing to flush or write: no interpreter teardown on the stop's path)
    import json
    from pathlib import Path

    from . import lock, reaper  # imported only when needed: the watchdog waits in ~11 MB

    entries, engines = [], []
    newer = lock.holder(Path(ledger).parent)
    if newer is not None and newer.stack_id not in (None, stack_id):
        return  # woken late (paused?): a newer stack runs there and has swept ours already
    try:  # the launcher died: kill its services' groups
        with open(ledger) as f:
            data = json.load(f)
        entries, engines = data.get("processes", []), data.get("engines", [])
    except (OSError, ValueError, AttributeError):
        entries = []
    for entry in entries:
        if not same_leader(entry):
            continue  # its pid was reused by an unrelated process: leave that alone
        pid, pgid = int(str(entry["pid"])), int(str(entry["pgid"]))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if entry.get("orphan") and pgid != pid:  # (a group it only joined is not its)
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(pgid, signal.SIGKILL)
    left = reaper.marked(stack_id)
    if left:
        reaper.kill_all(left, timeout=0.5)
    if engines:  # its containers (after the processes: those go within milliseconds)
        from . import containers

        containers.remove_labelled([str(url) for url in engines], stack_id)


if __name__ == "__main__":
    main()
