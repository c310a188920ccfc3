"""A stack's identity is its lock: `STATE_DIR/launcher.lock`, held (flock) by the process that
runs the stack for as long as it lives.

A pid says nothing across PID namespaces (a container sharing /tmp with the host sees other
processes under the same numbers) and a stopped or zombie process still has one; an flock is
released by the kernel when its holder is gone, however it went, and is seen the same from
every namespace. So: a state dir is in use while its lock is held, and a stack is alive while
its lock is held *and* names it. What is written inside (the holder's pid and, once it has one,
its stack id) is for messages and for telling stacks of one state dir apart, never for deciding
that something is dead.

`stack up` takes the lock before it starts the launcher and hands the very open file over
(`--lock-fd`): from its first instant a starting stack is seen as in use (lifecycle commands
are serialised per state dir).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import NamedTuple

NAME = "launcher.lock"


def path_of(state_dir: Path) -> Path:
    return Path(state_dir) / NAME


def _key(path: Path) -> str:
    return os.path.realpath(path)


class Holding:
    """A lock this process holds (one per state dir: `hold` gives the same one again). (A
    plain class: every `stack status` imports this module, and needs no dataclasses.)"""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.stack_id: str | None = None

    def name(self, stack_id: str) -> None:
        """Say which stack holds it (read by those who must tell its stacks apart)."""
        self.stack_id = stack_id
        self._write()

    def hand_to(self, pid: int) -> None:
        """Name `pid` (the launcher it is passed to, which adopts it) as its holder at once:
        a stopped or slow launcher is named from its first instant, not its starter."""
        self._write(pid)

    def _write(self, pid: int | None = None) -> None:
        text = f"{pid or os.getpid()} {self.stack_id or ''}".strip() + "\n"
        with contextlib.suppress(OSError):
            os.pwrite(self.fd, text.encode(), 0)
            os.ftruncate(self.fd, len(text))

    def release(self) -> None:
        """Let go (once: a second call never closes an fd number reused meanwhile)."""
        if self.fd < 0:
            return
        if _mine.get(_key(self.path)) is self:
            del _mine[_key(self.path)]
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


class Holder(NamedTuple):
    """What the holder of a lock wrote in it: its pid (in its own PID namespace) and stack."""

    pid: int | None
    stack_id: str | None


_mine: dict[str, Holding] = {}


def _open(path: Path, create: bool) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(path, flags, 0o600)


def hold(state_dir: Path, wait: float = 1.0) -> Holding | None:
    """Take the state dir's lock (waiting up to `wait` seconds: a check holds it for an
    instant); None when another process holds it. The same Holding if this process has it.
    StateDirBusy (saying why) when the lock file cannot be opened."""
    path = path_of(state_dir)
    if _key(path) in _mine:
        return _mine[_key(path)]
    try:
        fd = _open(path, create=True)
    except OSError as e:  # e.g. a symlink planted at its name (O_NOFOLLOW)
        from ...errors import StateDirBusy  # (errors.py: only when there is one to raise)

        raise StateDirBusy(state_dir, None, f"cannot open {path}: {e.strerror}") from None
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.02)
    held = _mine[_key(path)] = Holding(path, fd)
    held._write()
    return held


def adopt(fd: int, state_dir: Path) -> Holding:
    """Take over the lock our starter took and passed down as `fd` (the same open file: the
    lock never was free meanwhile). ValueError when `fd` is not that lock file, or not held."""
    path = path_of(state_dir)
    mine, there = os.fstat(fd), os.lstat(path)
    if (mine.st_dev, mine.st_ino) != (there.st_dev, there.st_ino):
        raise ValueError(f"file descriptor {fd} is not {path}")
    os.set_inheritable(fd, False)  # the services must not keep the stack "alive"
    try:  # ours already: this only confirms it (another holder would make it fail)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ValueError(f"file descriptor {fd} does not hold {path}") from None
    held = _mine[_key(path)] = Holding(path, fd)
    held._write()
    return held


def mine(state_dir: Path) -> Holding | None:
    """This process's hold on the state dir's lock, if it has one."""
    return _mine.get(_key(path_of(state_dir)))


def held(state_dir: Path) -> bool:
    """Whether some process (in any PID namespace) holds the state dir's lock."""
    return _held(path_of(state_dir))


def _held(path: Path) -> bool:
    if _key(path) in _mine:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False  # no lock file: nobody holds it
    except OSError:
        return True  # unreadable, or a link planted there: in doubt, never call it free
    try:  # shared: checkers running at once never see one another as the holder
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # (releases the shared lock with it)
    return False


def holder(state_dir: Path) -> Holder | None:
    """Who holds the state dir's lock (None when nobody does)."""
    return _holder(path_of(state_dir))


def open_by(pid: int, state_dir: Path) -> bool:
    """Whether process `pid`, in our PID namespace, has the state dir's lock file open: only
    then is the pid its holder wrote that holder here (to look at its state, or signal it)."""
    try:
        there = os.stat(path_of(state_dir))
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            st = os.stat(f"/proc/{pid}/fd/{fd}")
            if (st.st_dev, st.st_ino) == (there.st_dev, there.st_ino):
                return True
    return False


def holder_pid(state_dir: Path) -> int | None:
    """The pid the holder of the state dir's lock wrote (for messages), if any."""
    found = holder(state_dir)
    return found.pid if found is not None else None


def _holder(path: Path) -> Holder | None:
    if _key(path) in _mine:
        own = _mine[_key(path)]
        return Holder(os.getpid(), own.stack_id)
    if not _held(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            words = os.read(fd, 200).decode(errors="replace").split()
        finally:
            os.close(fd)
    except OSError:
        words = []
    pid = int(words[0]) if words and words[0].isdigit() else None
    return Holder(pid, words[1] if len(words) > 1 else None)


def alive(lock_path: Path, stack_id: str) -> bool:
    """Whether the stack `stack_id` whose lock is `lock_path` is alive: its lock is held, and
    its holder is that stack (or has not said yet which it is: never call a stack dead when in
    doubt). A stack whose state dir was taken over by a newer one is not alive."""
    found = _holder(Path(lock_path))
    if found is None:
        return False
    if _key(Path(lock_path)) in _mine:
        return found.stack_id == stack_id
    return found.stack_id in (None, stack_id)
