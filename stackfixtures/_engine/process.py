"""Child processes: each in its own process group, output pumped to the service log,
stopped by signal -> grace -> SIGKILL of the group, with nothing of it left afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .._define.policies import StopPolicy
from ..errors import CommandFailed, StartupCrashed
from .cleanup import reaper
from .context import ServiceContext, current
from .probes import Probe, since, wait_ready
from .records import StopRecord
from .tasks import cancel_and_wait

MAX_CARRY = 8 << 20
"""The most of an over-long line held back, looking for a place to cut it."""


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol, plus a future set the moment the process exits. On Python 3.11,
    `Process.wait()` also waits until every pipe is closed, so a daemon that inherited the
    service's stdout would make it wait forever."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=1 << 20, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


class Process:
    """A running child process of a service."""

    def __init__(
        self,
        ctx: ServiceContext,
        proc: asyncio.subprocess.Process,
        argv: list[str],
        port: int | None,
        exited: asyncio.Future[None],
    ):
        self.ctx = ctx
        self._port = port
        self.proc = proc
        self.argv = argv
        self.pid = proc.pid
        self.pgid = proc.pid  # start_new_session: the child leads its own group
        self.started = time.monotonic()
        self.stopping = False  # set once we ask it to stop: its exit is then expected
        # owned by this Process: release() (every way a process ends) cancels and awaits it
        self._pump = ctx.loop.create_task(self._pump_output(), name=f"pump:{ctx.name}:{self.pid}")
        self._exit: asyncio.Future[Any] = exited  # process_exited: wait() also awaits pipes
        self._exit.add_done_callback(self._exited)
        if ctx.ledger is not None:
            ctx.ledger.add(ctx.name, self.pid, self.pgid)

    @classmethod
    async def start(
        cls,
        ctx: ServiceContext,
        argv: list[str],
        env: Mapping[str, str] | None,
        cwd: str,
        user: str | int | None,
        port: int | None = None,
    ) -> Process:
        """Every child of a stack: its own session and process group, killed if the launcher's
        thread dies, output piped to the service log, the stack's marker in its environment."""
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Protocol(loop),
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=ctx.environment(env),
                cwd=cwd,
                start_new_session=True,
                preexec_fn=reaper.die_with_parent,
                **user_kwargs(user),
            )
        except OSError as e:
            raise StartupCrashed(
                ctx.name, "starting", f"cannot run {argv[0]!r}: {e}", ctx.log.tail()
            ) from e
        proc = asyncio.subprocess.Process(transport, protocol, loop)
        return cls(ctx, proc, argv, port, protocol.exited)

    def _exited(self, _: object) -> None:
        if self.ctx.ledger is not None:
            self.ctx.ledger.remove(self.pid)
        self.ctx.process_exited(self.pid, self.proc.returncode, self.stopping)

    async def finish_output(self) -> None:
        """Take what is left of its output (briefly: a daemon may hold the pipe open), then
        let go of the pipe."""
        await asyncio.wait([self._pump], timeout=1.0)  # (over already, if called before)
        await cancel_and_wait(self._pump)
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            transport.close()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def exit_future(self) -> asyncio.Future[Any]:
        """Done when the process has exited (never cancel it: it is the process's own)."""
        return self._exit

    @property
    def host(self) -> str:
        return self.ctx.host

    @property
    def port(self) -> int:
        """The port it was started on: its own if given to spawn, else the service's."""
        return self._port or self.ctx.port

    @property
    def url(self) -> str:
        return f"http://{self.ctx.host}:{self.port}"

    async def _pump_output(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        log = self.ctx.log
        carry = b""  # the part of a line longer than the buffer not written yet
        while True:
            try:
                raw = carry + await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:  # the end of the output
                if carry or e.partial:
                    log.write((carry + e.partial).decode(errors="replace"))
                return
            except asyncio.LimitOverrunError as e:  # a line longer than the buffer: in pieces,
                piece = carry + await stream.readexactly(e.consumed)  # none of it lost, and
                cut = log.secrets.cut(piece)  # cut where no secret is split in two
                if not cut and len(piece) > MAX_CARRY:  # (secrets overlapping all along it)
                    cut = len(piece)
                if cut:
                    log.write(piece[:cut].decode(errors="replace"))
                carry = piece[cut:]
                continue
            carry = b""
            log.write(raw.decode(errors="replace"))

    def send(self, sig: int, group: bool = False) -> None:
        """Send `sig` to the process, or to its whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.pgid, sig)
            else:
                os.kill(self.pid, sig)

    async def wait(self) -> int:
        """Its exit code, once it exited (not waiting for its pipes to close)."""
        await asyncio.shield(self._exit)
        code = self.proc.returncode
        assert code is not None
        return code

    async def stop(self, policy: StopPolicy) -> StopRecord:
        """Stop signal, wait up to the grace (cut short by the stack's hurry), then SIGKILL."""
        t0 = time.monotonic()
        graceful = True
        note = ""
        self.stopping = True
        if self.returncode is None:
            await self._ask_to_stop(policy)
            hurry = asyncio.ensure_future(self.ctx.hurry.wait())
            left = max(0.0, policy.grace - (time.monotonic() - t0))  # one grace, action included
            try:
                await asyncio.wait(
                    {self._exit, hurry}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                await cancel_and_wait(hurry)
            if self.returncode is None:
                graceful = False
                note = "hurried" if self.ctx.hurry.is_set() else f"grace {policy.grace:g}s expired"
                reaper.kill_group(self.pgid, signal.SIGKILL)
                await self.wait()
        else:
            note = "had already exited"
        stragglers = await self.release()
        record = StopRecord(
            service=self.ctx.name,
            pid=self.pid,
            graceful=graceful,
            returncode=self.returncode,
            duration_s=time.monotonic() - t0,
            signal=policy.signal.name,
            stragglers=stragglers,
            note=note,
        )
        self.ctx.stop_records.append(record)
        return record

    async def _ask_to_stop(self, policy: StopPolicy) -> None:
        """The server's own shutdown protocol if the policy has one, else the stop signal."""
        if policy.action is not None:
            try:
                async with asyncio.timeout(max(policy.grace, 0.1)):
                    await policy.action(self)
                return
            except Exception as e:
                self.ctx.log.write(
                    f"[stackfixtures] shutdown action failed ({type(e).__name__}: {e}); "
                    f"sending {policy.signal.name}"
                )
        self.send(policy.signal, group=policy.mode == "group")
        self.send(signal.SIGCONT, group=True)  # a paused service must be able to act on it

    def reap_leftovers(self) -> int:
        """Whatever of its process group outlived the main process. (Processes that left the
        group are found by their env marker when the stack sweeps after a stop.)"""
        if not reaper.group_alive(self.pgid):
            return 0
        left = reaper.group_members(self.pgid)
        return reaper.kill_all(left) if left else 0

    async def release(self) -> int:
        """After the main process exited: kill what is left of its group, take the rest of
        its output, let go of the pipe. Returns how many stragglers were killed."""
        stragglers = await asyncio.to_thread(self.reap_leftovers)
        await self.finish_output()
        return stragglers

    async def kill_now(self) -> None:
        """SIGKILL the whole group at once (a start that failed or was cancelled)."""
        self.stopping = True
        reaper.kill_group(self.pgid, signal.SIGKILL)
        await self.wait()
        await self.release()


def user_kwargs(user: str | int | None) -> dict[str, Any]:
    """Popen arguments that run a child as `user` (with that user's group, no others)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user) if isinstance(user, str) else pwd.getpwuid(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


async def run_once(
    argv: Sequence[str],
    *,
    ctx: ServiceContext | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    user: str | int | None = None,
    timeout: float | None = None,
) -> None:
    """Run a command to completion for the current service (e.g. initdb, a task), its output
    going to the service log, within `timeout` (default: what is left of the start budget).
    Raises CommandFailed, ending with the log tail, when it exits non-zero."""
    ctx = ctx or current()
    timeout = ctx.remaining() if timeout is None else timeout
    argv = [ctx.render(str(a)) for a in argv]
    ctx.log.write(f"[stackfixtures] run: {shlex.join(argv)}")
    where = ctx.render(str(cwd)) if cwd else str(ctx.root)  # as spawn: "" is the root too
    proc = await Process.start(ctx, argv, env, where, user)
    proc.stopping = True  # its exit is expected: it is not a crash of the service
    try:
        async with asyncio.timeout(timeout):
            code = await proc.wait()
    except BaseException:
        await asyncio.shield(proc.kill_now())
        raise
    await proc.release()
    if code != 0:
        raise CommandFailed(ctx.name, Path(argv[0]).name, code, ctx.log.tail())


class spawn:
    """Start a command for the current service, wait until `ready` passes, stop it on exit.

    Usable as `async with` (async services) and `with` (sync services). `${port}` and
    `${dep.attr}` are filled in the arguments and env values.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        ready: Probe | None = None,
        stop: StopPolicy | None = None,
        timeout: float | None = None,
        user: str | int | None = None,
        port: int | None = None,
        ctx: ServiceContext | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.ready = ready
        self.stop_policy = stop
        self.timeout = timeout
        self.user = user
        self.port = port
        self._ctx = ctx
        self.process: Process | None = None

    async def __aenter__(self) -> Process:
        ctx = self._ctx or current()
        argv = [ctx.render(str(a)) for a in self.argv]
        cwd = ctx.render(str(self.cwd)) if self.cwd else str(ctx.root)
        ctx.log.write(f"[stackfixtures] exec: {shlex.join(argv)}")
        mark = ctx.log.mark  # readiness counts only what this process writes
        self.process = await Process.start(ctx, argv, self.env, cwd, self.user, self.port)
        proc = self.process.proc
        ctx.processes.append(self.process)
        if self.ready is not None:
            timeout = min(self.timeout or ctx.remaining(), ctx.remaining())
            ready = since(self.ready, mark)
            try:
                await wait_ready(
                    ready,
                    ctx,
                    timeout,
                    lambda: proc.returncode,
                    exit_future=self.process.exit_future,
                )
            except BaseException:
                await asyncio.shield(self.process.kill_now())
                ctx.processes.remove(self.process)
                raise
        return self.process

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.process is not None
        ctx = self.process.ctx
        try:
            if et is None or not issubclass(et, asyncio.CancelledError):
                try:
                    await self.process.stop(ctx.stop_policy(self.stop_policy))
                except asyncio.CancelledError:  # cancelled mid-stop: no grace left to give
                    await asyncio.shield(self.process.kill_now())
                    raise
            else:
                await asyncio.shield(self.process.kill_now())
        finally:
            with contextlib.suppress(ValueError):
                ctx.processes.remove(self.process)

    def __enter__(self) -> Process:
        ctx = self._ctx or current()
        self._ctx = ctx
        return asyncio.run_coroutine_threadsafe(self.__aenter__(), ctx.loop).result()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._ctx is not None
        asyncio.run_coroutine_threadsafe(self.__aexit__(et, e, tb), self._ctx.loop).result()
