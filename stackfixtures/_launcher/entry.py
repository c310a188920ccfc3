"""How the launcher runs: `run` (the body of `launch`, imported only by it) and `main`, the
command line of `python -m stackfixtures._launcher`, which parses its options and calls `launch`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .. import _project as projects
from .._config.suggest import unknown_service
from .._control import endpoint, last_run
from .._control.console import Console, error_text
from .._control.exits import EXIT_DEFINITION
from .._engine import state_dirs
from .._engine.cleanup import ledger, lock
from .._project import programs
from .._project import replace as replaces
from ..errors import DefinitionError, NotAStateDir, StateDirBusy
from . import child_exits, first_spawn, report_sweep
from .options import Options
from .running import Launcher

SWITCH_INTERVAL = 0.0005
"""Seconds a thread of the launcher holds the GIL while another waits for it (Python's default:
0.005). The loop is what must answer promptly (a probe's reply, a process's exit); its helper
threads (the control server's imports, pruning) run while services boot, and with the default
each of the loop's wake-ups could wait up to 5 ms for them."""


def run(opts: Options, console: Console | None = None) -> int:
    """Run the stack until it is stopped; returns the exit code (see _control/exits.py)."""
    from pathlib import Path

    out = console or Console([])

    def fail(message: str | DefinitionError) -> int:
        text = error_text(message) if isinstance(message, DefinitionError) else message
        text = out.masking(text)  # (launcher.log: every line masked, this one too)
        print(text if text.startswith("error: ") else f"error: {text}", file=sys.stderr)
        return EXIT_DEFINITION

    named = [*opts.services, *([opts.exit_code_from] if opts.exit_code_from else [])]
    try:
        proj = projects.load(
            opts.profile,
            state_dir=Path(opts.state_dir).resolve() if opts.state_dir else None,
            services=named or None,
            cache=not opts.replace,  # (a compiled profile: _project/compiled.py)
        )
        proj.check_runnable(named)
        proj.check_not_empty()
    except DefinitionError as e:
        return fail(e)
    wanted = [] if opts.on_demand else list(opts.services) or proj.selected
    if opts.exit_code_from and opts.exit_code_from not in wanted:
        wanted.append(opts.exit_code_from)
    try:
        notes = replaces.apply(proj, opts.replace, None if opts.on_demand else wanted)
        programs.check(proj, wanted, opts.replace)  # before anything starts
    except DefinitionError as e:
        return fail(e)
    for note in notes:
        out.info(f"warning: {note}")
    for name in wanted:
        if name not in proj.graph:
            return fail(str(unknown_service(name, proj.graph.names)))
    if opts.mode is not None:
        proj.mode = opts.mode
    try:  # made (or adopted from an older version) with its marker, before anything in it
        state_dirs.make(proj.state_dir, "stack launcher", proj.label, proj.root)
    except NotAStateDir as e:
        return fail(str(e))
    # Held while this launcher lives (the kernel lets go when it dies, however): two
    # launchers never share a state dir, and this stack is alive exactly as long.
    if opts.lock_fd is not None:  # taken for us by `stack up` before it started us
        try:
            lock.adopt(opts.lock_fd, proj.state_dir)
        except (OSError, ValueError) as e:
            return fail(f"--lock-fd {opts.lock_fd}: {e}")
    else:
        try:
            if lock.hold(proj.state_dir) is None:
                raise StateDirBusy(proj.state_dir, lock.holder_pid(proj.state_dir))
        except StateDirBusy as e:
            return fail(str(e))
    running, why = endpoint.find(proj.state_dir)
    if running is not None:
        return fail(
            f"a stack already runs with state dir {proj.state_dir} "
            f"(pid {running.pid}); stop it with `stack down`"
        )
    if "stale" in why:
        out.info(why)
    report_sweep(out, ledger.sweep(), proj.root)
    last_run.forget(proj.state_dir)  # `stack down` reads this run's
    first_spawn.record(proj.state_dir)  # (tests only: what is imported before it)
    sys.setswitchinterval(SWITCH_INTERVAL)
    child_exits.install()
    return asyncio.run(Launcher(proj, wanted, opts).run())


def main(args: Sequence[str] | None = None) -> None:
    """`python -m stackfixtures._launcher`: what `stack up` and pytest start detached."""
    ap = argparse.ArgumentParser(prog="stackfixtures._launcher", description=__doc__)
    ap.add_argument("--profile", "-p")
    ap.add_argument("--state-dir")
    ap.add_argument("--mode", choices=["single", "multi"])
    ap.add_argument("--json", dest="as_json", action="store_true")
    ap.add_argument("--on-demand", action="store_true")
    ap.add_argument("--exit-with", type=int)
    ap.add_argument("--exit-code-from")
    ap.add_argument("--watch", action="store_true")
    ap.add_argument("--dashboard", action="store_true")
    ap.add_argument("--no-service-lines", dest="service_lines", action="store_false")
    ap.add_argument("--replace", action="append", default=[], metavar="NAME=URL")
    ap.add_argument("--lock-fd", type=int, help="the state dir's lock, already held (lock.py)")
    ap.add_argument("services", nargs="*")
    ns = ap.parse_args(args)
    try:
        ns.replace = replaces.parse(ns.replace)
    except ValueError as e:
        ap.error(f"--replace {e}")
    from . import finish, launch

    finish(launch(Options(**vars(ns))))
