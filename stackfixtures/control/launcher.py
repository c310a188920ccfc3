"""The launcher: the process that runs a stack and serves its control socket.

`stack run` is the launcher in the foreground; `stack up`, pytest's shared stack and the
shutdown benchmark start the same module detached (`python -m stackfixtures.control.launcher`).
It prints service output prefixed with names and a line per state change, stops everything in
reverse order on SIGINT/SIGTERM (a second Ctrl-C skips the remaining grace), and records how
each stop went in `last-run.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import project as projects
from ..config.suggest import did_you_mean
from ..engine.cleanup import ledger, watchdog
from ..engine.events import Event
from ..engine.stack import ServiceStop, Stack
from ..engine.status import endpoints, progress
from ..errors import DefinitionError
from ..project import replace as replaces
from . import codec, endpoint
from .console import Console, error_text, plural
from .exits import EXIT_DEFINITION, EXIT_FORCED, EXIT_INTERRUPTED, EXIT_OK, EXIT_STARTUP
from .watch import Watcher, watcher_for

PROGRESS_EVERY = float(os.environ.get("STACKFIXTURES_PROGRESS_EVERY", "5"))
"""Seconds between the progress lines printed while services start (what each waits for)."""

if TYPE_CHECKING:
    from pathlib import Path

    from .server import ControlServer

SAME_KEYPRESS = 0.5
"""Seconds within which a second SIGINT/SIGTERM is the same Ctrl-C delivered twice (once to the
process group by the terminal, once forwarded by npm), not a second press."""


@dataclass
class Options:
    """What to launch: a profile (or the default project), where, and how."""

    profile: str | None = None
    state_dir: str | None = None
    services: list[str] = field(default_factory=list)
    mode: str | None = None
    as_json: bool = False
    on_demand: bool = False  # start nothing; start services when asked (pytest's shared stack)
    exit_with: int | None = None  # stop everything once this process (e.g. pytest) is gone
    exit_code_from: str | None = None  # stop when this service ends; exit with its code
    watch: bool = False  # restart services whose `watch` files change (control/watch.py)
    replace: dict[str, str] = field(default_factory=dict)  # service -> URL it is replaced by


def argv(opts: Options) -> list[str]:
    """The command that runs this launcher detached with `opts`."""
    out = [sys.executable, "-m", "stackfixtures.control.launcher"]
    for flag, value in (
        ("--profile", opts.profile),
        ("--state-dir", opts.state_dir),
        ("--mode", opts.mode),
        ("--exit-with", opts.exit_with),
        ("--exit-code-from", opts.exit_code_from),
    ):
        if value is not None:
            out += [flag, str(value)]
    if opts.on_demand:
        out.append("--on-demand")
    if opts.as_json:
        out.append("--json")
    if opts.watch:
        out.append("--watch")
    for name, url in opts.replace.items():
        out += ["--replace", f"{name}={url}"]
    return [*out, *opts.services]


def launch(opts: Options, console: Console | None = None) -> int:
    """Run the stack until it is stopped; returns the exit code (see control/exits.py)."""
    from pathlib import Path

    from filelock import FileLock, Timeout

    out = console or Console([])

    def fail(message: str | DefinitionError) -> int:
        text = error_text(message) if isinstance(message, DefinitionError) else message
        print(text if text.startswith("error: ") else f"error: {text}", file=sys.stderr)
        return EXIT_DEFINITION

    named = [*opts.services, *([opts.exit_code_from] if opts.exit_code_from else [])]
    try:
        proj = projects.load(
            opts.profile,
            state_dir=Path(opts.state_dir).resolve() if opts.state_dir else None,
            services=named or None,
        )
        proj.check_runnable(named)
    except DefinitionError as e:
        return fail(e)
    wanted = [] if opts.on_demand else list(opts.services) or proj.selected
    if opts.exit_code_from and opts.exit_code_from not in wanted:
        wanted.append(opts.exit_code_from)
    try:
        notes = replaces.apply(proj, opts.replace, None if opts.on_demand else wanted)
    except DefinitionError as e:
        return fail(e)
    for note in notes:
        out.info(f"warning: {note}")
    for name in wanted:
        if name not in proj.graph:
            known = ", ".join(proj.graph.names)
            hint = did_you_mean(name, proj.graph.names)
            return fail(f"unknown service {name!r} (defined: {known}){hint}")
    if opts.mode is not None:
        proj.mode = opts.mode
    proj.state_dir.mkdir(parents=True, exist_ok=True)
    lifetime = FileLock(str(proj.state_dir / "launcher.lock"))
    try:  # held while this launcher lives: two launchers never share a state dir
        lifetime.acquire(timeout=0)
    except Timeout:
        return fail(f"another launcher is using state dir {proj.state_dir}")
    running, why = endpoint.find(proj.state_dir)
    if running is not None:
        return fail(
            f"a stack already runs with state dir {proj.state_dir} "
            f"(pid {running.pid}); stop it with `stack down`"
        )
    if "stale" in why:
        out.info(why)
    report_sweep(out, ledger.sweep())
    return asyncio.run(Launcher(proj, wanted, opts).run())


def report_sweep(console: Console, swept: list[ledger.Leftover]) -> None:
    """Say what was left of crashed stacks and has just been stopped."""
    for stack_id in sorted({s.stack_id for s in swept}):
        mine = [s for s in swept if s.stack_id == stack_id]
        console.info(
            f"stopped {len(mine)} leftover process(es) of crashed stack "
            f"{stack_id}: " + "; ".join(f"{s.service} pid {s.pid}" for s in mine)
        )


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
        self.ended: int | None = None  # the exit code of the --exit-code-from service, once over

    async def run(self) -> int:
        proj, console = self.proj, self.console
        stack = self.stack = Stack(
            proj.graph,
            state_dir=proj.state_dir,
            root=proj.root,
            parallelism=proj.parallelism,
            on_output=console.line,
            mode=proj.mode,
        )
        stack.events.subscribe(console.event)
        self.stop_now = asyncio.Event()
        if self.opts.exit_code_from:
            stack.events.subscribe(self._watch_end)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        guard = watchdog.start(stack.ledger.path, stack.stack_id) if stack.ledger else None
        owner_watch = (
            asyncio.ensure_future(self._watch_owner(self.opts.exit_with))
            if self.opts.exit_with is not None
            else None
        )
        self.info: dict[str, Any] = {
            "id": stack.stack_id,
            "profile": proj.label,
            "root": str(proj.root),
            "state_dir": str(proj.state_dir),
            "mode": proj.mode,
            "started": time.time(),
            "services": self.closure,
            "env": dict(proj.profile.spec.stack.env) if proj.profile else {},
            "replaced": dict(self.opts.replace),
        }
        watcher = self._watcher() if self.opts.watch else None  # before: status shows it
        mode = f", mode {proj.mode}" if proj.mode else ""
        console.info(
            f"profile {proj.label}{mode}: starting {', '.join(self.closure)} "
            f"(state in {proj.state_dir})"
        )
        sock = endpoint.socket_path(proj.state_dir)
        starting = asyncio.ensure_future(stack.start(self.wanted))
        # The control socket opens right after: its set-up (the server's modules, the
        # definitions' fingerprints) then runs while the first servers boot, not before them.
        opening = asyncio.ensure_future(self._open_control(sock))
        interrupted = asyncio.ensure_future(self.stop_now.wait())
        reporter = asyncio.ensure_future(self._progress())
        await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        reporter.cancel()
        code = EXIT_OK
        if starting.done() and starting.exception() is None:
            console.info("ready")
            if self.closure:
                console.table(endpoints(stack, self.closure), ["name", "state", "endpoint", "pid"])
            else:
                console.info(f"serving on demand at {sock}")
            watching = asyncio.ensure_future(watcher.run(self.stop_now)) if watcher else None
            await interrupted
            if watching is not None:  # no restart may begin while the stack stops
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
        elif starting.done():
            console.error(str(starting.exception()))
            code = EXIT_STARTUP
            interrupted.cancel()
        else:
            code = EXIT_INTERRUPTED
        try:
            stops = await stack.close(sweep=False)  # the watchdog sweeps, after we are gone
        finally:
            endpoint.withdraw(proj.state_dir, sock)  # first: nobody new connects meanwhile
            if not opening.done():
                opening.cancel()
            with contextlib.suppress(BaseException):
                server, listening = await opening
                listening.close()
                await listening.wait_closed()
                server.close()
            if guard is not None:
                watchdog.stop(guard, wait=False)
            if owner_watch is not None:
                owner_watch.cancel()
        if not starting.done():
            starting.cancel()
        if starting.done() and not starting.cancelled():
            starting.exception()  # retrieved
        if any(not s.graceful for s in stops) and code == EXIT_OK:
            code = EXIT_FORCED
        if self.ended is not None:
            code = self.ended
        self._summary(stops)
        self._record(stops, code)
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

    async def _open_control(self, sock: Path) -> tuple[ControlServer, asyncio.Server]:
        """Serve the control protocol on the stack's socket and say where (control.json)."""
        from .local import LocalControl
        from .server import ControlServer

        proj = self.proj
        self.info["fingerprints"] = projects.fingerprints(proj.graph)
        loop = asyncio.get_running_loop()
        control = LocalControl(
            self.stack, loop, info=self.info, on_down=self.stop_now.set, on_reload=self._reload
        )
        server = ControlServer(control)
        listening = await server.serve(sock)
        endpoint.publish(proj.state_dir, sock, self.stack.stack_id, proj.label, proj.root)
        return server, listening

    def _watch_end(self, event: Event) -> None:
        """--exit-code-from: when that service ends (a task completes or fails, a server exits),
        stop the stack and exit with its code."""
        if event.service != self.opts.exit_code_from or self.ended is not None:
            return
        if event.target == "completed":
            self.ended = 0
        elif event.target == "failed":
            code = self.stack.units[event.service].last_exit_code
            self.ended = code if code else 1
        else:
            return
        self.console.info(f"{event.service} ended with code {self.ended}: stopping")
        self.stop_now.set()

    def _watcher(self) -> Watcher | None:
        """The watcher of the services that declare `watch` (what it watches and any pattern
        that matches no file go in status too)."""
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
        old = projects.fingerprints(self.stack.graph)
        new = projects.fingerprints(fresh.graph)
        changed = {n: fresh.graph[n] for n, f in new.items() if old.get(n) != f}
        restarted = await self.stack.replace(changed)
        self.info["fingerprints"] = projects.fingerprints(self.stack.graph)
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

    def _record(self, stops: list[ServiceStop], code: int) -> None:
        """What `stack down` reports after the launcher is gone."""
        data = {"exit_code": code, "stops": codec.stops_to_json(stops), "time": time.time()}
        (self.proj.state_dir / "last-run.json").write_text(json.dumps(data))


def main(args: Sequence[str] | None = None) -> None:
    """`python -m stackfixtures.control.launcher`: what `stack up` and pytest start detached."""
    ap = argparse.ArgumentParser(prog="stackfixtures.control.launcher", description=__doc__)
    ap.add_argument("--profile", "-p")
    ap.add_argument("--state-dir")
    ap.add_argument("--mode", choices=["single", "multi"])
    ap.add_argument("--json", dest="as_json", action="store_true")
    ap.add_argument("--on-demand", action="store_true")
    ap.add_argument("--exit-with", type=int)
    ap.add_argument("--exit-code-from")
    ap.add_argument("--watch", action="store_true")
    ap.add_argument("--replace", action="append", default=[], metavar="NAME=URL")
    ap.add_argument("services", nargs="*")
    ns = ap.parse_args(args)
    try:
        ns.replace = replaces.parse(ns.replace)
    except ValueError as e:
        ap.error(f"--replace {e}")
    finish(launch(Options(**vars(ns))))


def finish(code: int) -> None:
    """Exit with `code` at once. Everything is written and closed by now (the event log, the
    services' logs, last-run.json); the interpreter's own teardown of the modules a launcher
    loads would take ~80 ms more, and the stack counts as stopped only once we are gone."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
