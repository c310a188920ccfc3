"""The launcher's running stack: its event loop, signals, control socket, progress lines and
the record of how it stopped."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import psutil

from .. import _project as projects
from .. import _startup
from .._control import codec, endpoint, last_run
from .._control.console import Console, plural
from .._control.exits import EXIT_FORCED, EXIT_INTERRUPTED, EXIT_OK, EXIT_STARTUP, shell_code
from .._engine.cleanup import reaper, watchdog
from .._engine.events import Event
from .._engine.stack import ServiceStop, Stack
from .._engine.status import endpoints, progress
from .._engine.tasks import TaskOwner, cancel_and_wait, to_the_end
from .._project import replace as replaces
from . import first_spawn
from .options import Options
from .orphans import OrphanWatch

PROGRESS_EVERY = float(os.environ.get("STACKFIXTURES_PROGRESS_EVERY", "5"))
"""Seconds between the progress lines printed while services start (what each waits for)."""

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from .._control.server import ControlServer
    from .._dashboard.server import Dashboard
    from .watch import Watcher

SAME_KEYPRESS = 0.5
"""Seconds within which a second SIGINT/SIGTERM is the same Ctrl-C delivered twice (once to the
process group by the terminal, once forwarded by npm), not a second press."""


class Launcher:
    """One stack in this process's event loop, its control server, and its signals."""

    def __init__(self, proj: projects.Project, wanted: list[str], opts: Options) -> None:
        self.proj = proj
        self.wanted = wanted
        self.opts = opts
        self.closure = proj.graph.closure(wanted)
        self.console = Console(self.closure)
        self.interrupts = 0
        self.first_signal = 0.0
        self.unreachable = False  # the control socket could not be opened
        self.ended: int | None = None  # the exit code of the --exit-code-from service, once over

    async def run(self) -> int:
        proj, console = self.proj, self.console
        stack = self.stack = Stack(
            proj.graph,
            state_dir=proj.state_dir,
            root=proj.root,
            parallelism=proj.parallelism,
            on_output=console.line if self.opts.service_lines else None,
            mode=proj.mode,
            bus=proj.events,
        )
        console.masking = stack.logs.secrets.mask  # launcher.log: masked as logs and events
        stack.events.subscribe(console.event)
        self.stop_now = asyncio.Event()
        if self.opts.exit_code_from:
            stack.events.subscribe(self._watch_end)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        others = set(reaper.children(os.getpid()))  # none of the stack's
        # An escaped daemon is re-parented to us, not to init: the stop then finds all that
        # is left among our children (stop_orphans), and the sweep by marker (a scan of every
        # process's environment, on the stop's path) is needed only when this fails.
        self.subreaper = reaper.become_subreaper()
        guard = watchdog.start(stack.ledger) if stack.ledger else None
        tasks = TaskOwner("launcher")  # every task below: cancelled and awaited before we end
        try:
            return await self._run(stack, tasks, others, guard)
        finally:
            await tasks.aclose()

    async def _run(
        self,
        stack: Stack,
        tasks: TaskOwner,
        others: set[int],
        guard: subprocess.Popen[bytes] | None,
    ) -> int:
        proj, console = self.proj, self.console
        if self.opts.exit_with is not None:
            tasks.spawn(self._watch_owner(self.opts.exit_with), "owner")
        self.info: dict[str, Any] = {
            "id": stack.stack_id,
            "profile": proj.label,
            "profile_path": str(proj.profile.path) if proj.profile else None,
            "root": str(proj.root),
            "state_dir": str(proj.state_dir),
            "mode": proj.mode,
            "started": time.time(),
            "services": self.closure,
            "env": dict(proj.profile.spec.stack.env) if proj.profile else {},
            "conventional_env": proj.profile.spec.stack.conventional_env if proj.profile else True,
            "unset_env": list(proj.profile.spec.stack.unset_env) if proj.profile else [],
            "replaced": dict(self.opts.replace),
        }
        watcher = self._watcher() if self.opts.watch else None  # before: status shows it
        mode = f", mode {proj.mode}" if proj.mode else ""
        console.info(
            f"profile {proj.label}{mode}: starting {', '.join(self.closure)} "
            f"(state in {proj.state_dir})"
        )
        sock = endpoint.socket_path(proj.state_dir)
        spawned = first_spawn.told(stack, bool(self.closure))
        starting = tasks.spawn(stack.start(self.wanted), "start")
        starting.add_done_callback(lambda _: spawned.set())
        # The control socket opens once the first process runs: its set-up (the server's
        # modules, the definitions' fingerprints) then runs while the first servers boot,
        # not before them.
        opening = tasks.spawn(self._open_control(sock, spawned), "control")
        opening.add_done_callback(self._control_failed)
        if self.opts.dashboard:
            self._open_dashboard(tasks)
        interrupted = tasks.spawn(self.stop_now.wait(), "interrupted")
        reporter = tasks.spawn(self._progress(), "progress")
        orphans_watch = OrphanWatch(stack, {*others, *([guard.pid] if guard else [])}, console)
        stack.events.subscribe(orphans_watch.event)
        reaping = tasks.spawn(orphans_watch.run(), "orphans")
        await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        await cancel_and_wait(reporter)
        code = EXIT_OK
        if starting.done() and starting.exception() is None:
            console.info("ready")
            if self.closure:
                console.table(endpoints(stack, self.closure), ["name", "state", "endpoint", "pid"])
            else:
                console.info(f"serving on demand at {sock}")
            watching = tasks.spawn(watcher.run(self.stop_now), "watch") if watcher else None
            await interrupted
            if watching is not None:  # no restart may begin while the stack stops
                await cancel_and_wait(watching)
                broken = None if watching.cancelled() else watching.exception()
                if broken is not None:  # a broken watcher must not skip the graceful stop
                    console.error(f"the file watcher failed: {type(broken).__name__}: {broken}")
        elif starting.done():
            console.error(str(starting.exception()))
            code = EXIT_STARTUP
        else:
            code = EXIT_INTERRUPTED
        orphans_watch.reaping = False  # (it still records what the stop leaves)
        if self.unreachable and code == EXIT_OK:
            code = EXIT_STARTUP
        closed = False
        orphans: list[str] = []
        try:
            stops = await stack.close(sweep=not self.subreaper)  # (the watchdog sweeps none)
            keep = others | ({guard.pid} if guard is not None else set())
            await cancel_and_wait(reaping)
            orphans = await asyncio.to_thread(reaper.stop_orphans, keep)
            closed = True
            if guard is not None:  # "done": it exits while we do our bookkeeping below
                watchdog.stop(guard, wait=False)
            for said in orphans:
                console.info(f"stopped orphan {said}: it had left its service")
        finally:
            endpoint.withdraw(proj.state_dir, sock)  # first: nobody new connects meanwhile
            try:  # (a cancellation of ours is raised once they are over, the guard told)
                try:
                    await cancel_and_wait(reaping, None if opening.done() else opening)
                finally:  # again: a control set-up cut short still finishes what it began
                    endpoint.withdraw(proj.state_dir, sock)  # (socket, control.json), later
                if not opening.cancelled() and opening.exception() is None:
                    server, listening = opening.result()
                    listening.close()
                    with contextlib.suppress(OSError):
                        await listening.wait_closed()
                    await server.aclose()
            finally:
                if guard is not None and not closed and guard.stdin is not None:
                    guard.stdin.close()  # as if we died: it kills what the ledger lists
        await cancel_and_wait(starting)  # over by now (the close stopped it); its error seen
        if any(not s.graceful for s in stops) and code == EXIT_OK:
            code = EXIT_FORCED
        if self.ended is not None:
            code = self.ended
        self._summary(stops)
        self._record(stops, code, orphans)
        if guard is not None:  # gone (and reaped) before we are: the stack ends with us
            await asyncio.to_thread(watchdog.reap, guard)
        return code

    async def _progress(self) -> None:
        """Every few seconds while services start: what each slow one waits for."""
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            now = time.monotonic()
            for name in self.closure:
                line = progress(self.stack, self.stack.units[name], now, PROGRESS_EVERY)
                if line:
                    self.console.info(line)

    def _control_failed(self, opening: asyncio.Future[Any]) -> None:
        """A stack nobody can reach or stop must not run on: stop it, saying why."""
        if opening.cancelled() or opening.exception() is None:
            return
        error = opening.exception()
        self.unreachable = True
        self.console.error(f"cannot serve the control socket: {type(error).__name__}: {error}")
        self.stop_now.set()

    async def _open_control(
        self, sock: Path, spawned: asyncio.Event
    ) -> tuple[ControlServer, asyncio.Server]:
        """Serve the control protocol on the stack's socket and say where (control.json),
        once the first process runs (first_spawn.py)."""
        await first_spawn.wait(self.stack, spawned)
        _startup.release()  # (the start's imports are made: _startup.py)
        proj = self.proj
        # Its set-up in threads (~25 ms of CPU here: the server's modules, the definitions'
        # fingerprints, then control.json): the loop, in the meantime, goes on noticing the
        # first servers ready (a blocked loop had them noticed that much later).
        self.info["fingerprints"] = await to_the_end(asyncio.to_thread(_control_set_up, proj))
        from .._control.local import LocalControl
        from .._control.server import ControlServer

        loop = asyncio.get_running_loop()
        control = LocalControl(
            self.stack, loop, info=self.info, on_down=self.stop_now.set, on_reload=self._reload
        )
        server = ControlServer(control)
        listening = await server.serve(sock)
        publish = functools.partial(endpoint.publish, proj.state_dir, sock, self.stack.stack_id)
        await to_the_end(asyncio.to_thread(publish, proj.label, proj.root))
        return server, listening

    def _open_dashboard(self, tasks: TaskOwner) -> None:
        """--dashboard: the stack's web page (_dashboard/) over its LoopControl. Its URL holds
        a token: in status (for whoever may use the control socket) and on the console in the
        foreground; a detached launcher's console is launcher.log, which gets no token."""
        from .._control.local import LoopControl
        from .._dashboard.server import Dashboard

        try:
            board = Dashboard(LoopControl(self.stack, info=self.info))
        except OSError as e:  # asked for and impossible: as the control socket
            self.console.error(str(e))
            self.unreachable = True
            self.stop_now.set()
            return
        self.info["dashboard"] = board.url
        if self.opts.service_lines:
            self.console.info(f"dashboard: {board.url}")
        else:
            self.console.info(f"dashboard on {board.address} (its URL: `stack status --json`)")
        tasks.spawn(self._serve_dashboard(board), "dashboard")

    async def _serve_dashboard(self, board: Dashboard) -> None:
        """Serve until the launcher ends (its task owner cancels this: the server then stops
        within its bound); a server that fails is said, the stack runs on."""
        async with board:
            serving = board.serving
            assert serving is not None  # (started by the `async with`)
            try:
                await asyncio.shield(serving)
            except Exception as e:
                self.console.error(f"the dashboard failed: {type(e).__name__}: {e}")

    def _watch_end(self, event: Event) -> None:
        """--exit-code-from: when that service ends (a task completes or fails, a server exits),
        stop the stack and exit with its code."""
        if event.service != self.opts.exit_code_from or self.ended is not None:
            return
        if event.target == "completed":
            self.ended = 0
        elif event.target == "failed":
            code = self.stack.units[event.service].last_exit_code
            if code is None:
                self.ended = 1  # it failed without an exit code (e.g. it never started)
            else:
                self.ended = shell_code(code)
        else:
            return
        self.console.info(f"{event.service} ended with code {self.ended}: stopping")
        self.stop_now.set()

    def _watcher(self) -> Watcher | None:
        """The watcher of the services that declare `watch` (what it watches and any pattern
        that matches no file go in status too)."""
        from .watch import watcher_for  # (only for --watch)

        root, skip = self.proj.root, [self.proj.state_dir]
        watcher, shown = watcher_for(self.stack, self.closure, root, skip, self.console.info)
        self.info.update(shown)
        return watcher

    def _on_signal(self, signum: int) -> None:
        now = time.monotonic()
        if self.interrupts and now - self.first_signal < SAME_KEYPRESS:
            return  # npm/pnpm forward the Ctrl-C their whole group already got: one keypress
        self.interrupts += 1
        if self.interrupts == 1:
            self.first_signal = now
            self.stop_now.set()
            self.console.info(
                f"{signal.Signals(signum).name}: stopping in reverse order "
                "(Ctrl-C again to skip the remaining grace)"
            )
        else:
            self.stack.force()
            self.console.info("stopping now: killing what is still running")

    async def _watch_owner(self, pid: int) -> None:
        """Stop once process `pid` is gone (the launcher's owner died or finished)."""
        import psutil

        try:
            owner: psutil.Process | None = psutil.Process(pid)
            born = owner.create_time() if owner else 0.0
        except psutil.Error:
            owner, born = None, 0.0
        while owner is not None and not self.stop_now.is_set():
            try:
                fresh = psutil.Process(pid)  # not `owner`: psutil caches create_time per object
                if fresh.create_time() != born or fresh.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            await asyncio.sleep(0.5)
        if not self.stop_now.is_set():
            self.console.info(f"process {pid} is gone: stopping")
            self.stop_now.set()

    async def _reload(self) -> dict[str, Any]:
        """Pick up edited definitions: restart only the services that changed."""
        proj = self.proj
        fresh = projects.load(
            proj.profile.path if proj.profile else None,
            root=proj.root,
            state_dir=proj.state_dir,
            fresh=True,
        )
        replaces.apply(fresh, self.opts.replace, None)  # replaced services stay replaced
        # what it runs, as recorded when it started (a task's input files are read now, so
        # they are compared with what they were then, not with themselves)
        old = self.info.get("fingerprints") or projects.fingerprints(self.stack.graph, proj.root)
        new = projects.fingerprints(fresh.graph, proj.root)
        changed = {n: fresh.graph[n] for n, f in new.items() if old.get(n) != f}
        restarted = await self.stack.replace(changed)
        self.info["fingerprints"] = {**old, **new}
        return {"changed": sorted(changed), "restarted": restarted}

    def _summary(self, stops: list[ServiceStop]) -> None:
        if self.opts.as_json:
            self.console.raw(json.dumps({"stops": codec.stops_to_json(stops)}))
            return
        forced = [s.service for s in stops if not s.graceful]
        if forced:
            self.console.info(f"stopped; forced: {', '.join(forced)}")
        else:
            self.console.info(f"stopped {plural(len(stops), 'service')} gracefully")

    def _record(self, stops: list[ServiceStop], code: int, orphans: list[str]) -> None:
        """What `stack down` reports after the launcher is gone (a full disk loses the record,
        said here, not the stop: `down` then reports from the ledger)."""
        try:
            last_run.write(self.proj.state_dir, code, codec.stops_to_json(stops), orphans)
        except OSError as e:
            where = self.proj.state_dir / last_run.NAME
            self.console.error(f"cannot record how the stack stopped in {where}: {e.strerror}")


def _control_set_up(proj: projects.Project) -> dict[str, str]:
    """The control server's blocking set-up, for a thread: its modules imported (not in the
    loop, which meanwhile notices the first servers ready), and the definitions' fingerprints
    (status and `reload` compare them), returned."""
    from .._control import local, server  # noqa: F401  (imported here, used in the loop)

    return projects.fingerprints(proj.graph, proj.root)
