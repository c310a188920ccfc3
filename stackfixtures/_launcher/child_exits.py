"""How the launcher learns that a child exited, on Python 3.11: from a pidfd, watched by the
loop that started the child, as Python 3.12 does by itself.

Python 3.11 starts a thread per child to wait in, and waits for that thread to start at every
spawn: ~1 ms on an idle machine, several while servers boot on two cores, each delaying the
next service's spawn. Its own PidfdChildWatcher serves the main thread's loop alone: a loop that
a service's code runs in another thread could not start a process, or would be told of its exit
by the main loop. This one keeps no loop of its own: each child's pidfd goes to the running loop
that started it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any


def install() -> bool:
    """In the launcher's process (its own: the watcher is process-wide), before its loop runs,
    on Python 3.11 where pidfds work; whether it was installed."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a kernel before 5.3, or pidfds not allowed here (seccomp)
        return False
    asyncio.set_child_watcher(_watcher())
    return True


def _watcher() -> Any:
    """Defined here, not at import: subclassing AbstractChildWatcher warns on Python 3.12+."""

    class RunningLoopPidfdWatcher(asyncio.AbstractChildWatcher):
        def add_child_handler(self, pid: int, callback: Any, *args: Any) -> None:  # type: ignore[override]  # (typeshed: a generic over the args)
            loop = asyncio.get_running_loop()
            pidfd = os.pidfd_open(pid)
            loop.add_reader(pidfd, _exited, loop, pid, pidfd, callback, args)

        def remove_child_handler(self, pid: int) -> bool:
            return True  # (asyncio calls it for a child that exited, its reader removed)

        def attach_loop(self, loop: Any) -> None:
            pass

        def close(self) -> None:
            pass

        def is_active(self) -> bool:
            return True

        def __enter__(self) -> RunningLoopPidfdWatcher:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    return RunningLoopPidfdWatcher()


def _exited(
    loop: asyncio.AbstractEventLoop, pid: int, pidfd: int, callback: Any, args: tuple[Any, ...]
) -> None:
    """The child's pidfd turned readable: it exited; reap it and say how it ended."""
    loop.remove_reader(pidfd)
    try:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:  # reaped by someone else: as asyncio's own watchers say
        code = 255
    finally:
        os.close(pidfd)
    callback(pid, code, *args)
