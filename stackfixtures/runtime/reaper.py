"""Finding and killing what a stack started: by process group, and by the env marker it set."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal

import psutil

from .context import SERVICE_ENV, STACK_ENV

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_prctl = _libc.prctl


def die_with_parent() -> None:
    """In a forked child before exec: get SIGKILL when the launcher's thread dies (Linux)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes in process group `pgid`."""
    members = []
    for p in psutil.process_iter(["status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(p.pid) == pgid:
                members.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def marked(stack_id: str, service: str | None = None) -> list[psutil.Process]:
    """Live processes whose environment carries this stack's marker (and service, if given)."""
    found = []
    me = os.getpid()
    for p in psutil.process_iter(["status"]):
        if p.pid == me or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            env = p.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(STACK_ENV) == stack_id and (service is None or env.get(SERVICE_ENV) == service):
            found.append(p)
    return found


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_all(procs: list[psutil.Process], timeout: float = 1.0) -> int:
    """SIGTERM, then SIGKILL what is still alive after `timeout`. Returns how many there were."""
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return len(procs)
