"""`stack run` (the foreground launcher, which also serves the control socket) and
`stack validate`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import click
import psutil
from filelock import FileLock, Timeout

from .. import project as projects
from ..control import endpoint
from ..control.api import ControlApi
from ..control.console import Console
from ..control.http import serve_unix
from ..engine.cleanup import ledger, watchdog
from ..engine.stack import ServiceStop, Stack, selection_summary
from .common import (
    EXIT_DEFINITION,
    EXIT_FORCED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STARTUP,
    json_option,
    load,
    main,
    profile_option,
    state_dir_option,
)

SAME_KEYPRESS = 0.5
"""Seconds within which a second SIGINT/SIGTERM is the same Ctrl-C delivered twice (once to the
process group by the terminal, once forwarded by npm), not a second press."""

mode_option = click.option(
    "--mode",
    type=click.Choice(["single", "multi"]),
    default=None,
    help="Override the profile's mode: single (one process for all components) or multi "
    "(one process each).",
)


@main.command()
@profile_option
@json_option
def validate(profile: str | None, as_json: bool) -> None:
    """Check a profile and its service graph; exit non-zero with the file and key on error.

    --json prints {"ok": true, "file", "services", "levels"} (or {"ok": false, "error"}).
    """
    proj = load(profile, as_json=as_json)
    levels = proj.graph.levels(proj.graph.closure(proj.selected))
    where = proj.profile.path if proj.profile else proj.root
    if as_json:
        click.echo(
            json.dumps(
                {"ok": True, "file": str(where), "services": proj.graph.names, "levels": levels}
            )
        )
        return
    click.echo(f"ok: {where}: {len(proj.graph)} services")
    for i, level in enumerate(levels):
        click.echo(f"  start level {i}: {', '.join(level)}")


@main.command()
@profile_option
@click.argument("services", nargs=-1)
@json_option
@mode_option
@state_dir_option
@click.option(
    "--on-demand",
    is_flag=True,
    hidden=True,
    help="Start nothing; serve the control socket and start services when asked "
    "(the launcher shared by pytest workers).",
)
@click.option(
    "--exit-with",
    type=int,
    default=None,
    hidden=True,
    help="Stop everything and exit when this process (e.g. pytest) is gone.",
)
def run(
    profile: str | None,
    services: tuple[str, ...],
    as_json: bool,
    mode: str | None,
    state_dir: str | None,
    on_demand: bool,
    exit_with: int | None,
) -> None:
    """Start SERVICES (default: the profile's) and what they need, in the foreground.

    Ctrl-C or SIGTERM stops everything gracefully in reverse order; a second Ctrl-C skips the
    remaining grace. Other terminals reach it with `stack status`, `stack logs`, ... through
    its control socket. Exit codes: 0 all graceful, 1 some stop forced, 2 invalid profile,
    3 startup failed, 130 interrupted before ready.
    """
    proj = load(profile, state_dir)
    wanted = [] if on_demand else list(services) or proj.selected
    for name in wanted:
        if name not in proj.graph:
            known = ", ".join(proj.graph.names)
            click.echo(f"error: unknown service {name!r} (defined: {known})", err=True)
            sys.exit(EXIT_DEFINITION)
    if mode is not None:
        proj.mode = mode
    proj.state_dir.mkdir(parents=True, exist_ok=True)
    lifetime = FileLock(str(proj.state_dir / "launcher.lock"))
    try:  # held while this launcher lives: two launchers never share a state dir
        lifetime.acquire(timeout=0)
    except Timeout:
        click.echo(f"error: another launcher is using state dir {proj.state_dir}", err=True)
        sys.exit(EXIT_DEFINITION)
    running, why = endpoint.find(proj.state_dir)
    if running is not None:
        click.echo(
            f"error: a stack already runs with state dir {proj.state_dir} "
            f"(pid {running.pid}); stop it with `stack down`",
            err=True,
        )
        sys.exit(EXIT_DEFINITION)
    if "stale" in why:
        click.echo(f"[stack] {why}")
    report_sweep(ledger.sweep())
    sys.exit(asyncio.run(_run(proj, wanted, as_json, exit_with)))


def report_sweep(swept: list[ledger.Leftover]) -> None:
    """Say what was left of crashed stacks and has just been stopped."""
    for stack_id in sorted({s.stack_id for s in swept}):
        mine = [s for s in swept if s.stack_id == stack_id]
        click.echo(
            f"[stack] stopped {len(mine)} leftover process(es) of crashed stack "
            f"{stack_id}: " + "; ".join(f"{s.service} pid {s.pid}" for s in mine)
        )


async def _watch_pid(pid: int, then: asyncio.Event, console: Console) -> None:
    """Set `then` once process `pid` is gone (the launcher's owner died or finished)."""
    try:
        owner = psutil.Process(pid)
        born = owner.create_time()
    except psutil.Error:
        owner, born = None, 0.0
    while owner is not None and not then.is_set():
        try:
            fresh = psutil.Process(pid)  # not `owner`: psutil caches create_time per object
            if fresh.create_time() != born or fresh.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.Error:
            break
        await asyncio.sleep(0.5)
    if not then.is_set():
        console.info(f"process {pid} is gone: stopping")
        then.set()


async def _run(
    proj: projects.Project, wanted: list[str], as_json: bool, exit_with: int | None = None
) -> int:
    closure = proj.graph.closure(wanted)
    console = Console(closure)
    stack = Stack(
        proj.graph,
        state_dir=proj.state_dir,
        root=proj.root,
        parallelism=proj.parallelism,
        on_output=console.line,
        mode=proj.mode,
    )
    stack.events.subscribe(lambda e: console.event(e))
    stop_now = asyncio.Event()
    interrupts = 0

    first_signal = 0.0

    def on_signal(signum: int) -> None:
        nonlocal interrupts, first_signal
        now = time.monotonic()
        if interrupts and now - first_signal < SAME_KEYPRESS:
            return  # npm/pnpm forward the Ctrl-C their whole group already got: one keypress
        interrupts += 1
        if interrupts == 1:
            first_signal = now
            stop_now.set()
            console.info(
                f"{signal.Signals(signum).name}: stopping in reverse order "
                "(Ctrl-C again to skip the remaining grace)"
            )
        else:
            stack.force()
            console.info("stopping now: killing what is still running")

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    guard = watchdog.start(stack.ledger.path, stack.stack_id) if stack.ledger else None
    owner_watch = (
        asyncio.ensure_future(_watch_pid(exit_with, stop_now, console))
        if exit_with is not None
        else None
    )

    async def reload() -> dict[str, Any]:
        """Pick up edited definitions: restart only the services that changed."""
        fresh = projects.load(
            proj.profile.path if proj.profile else None,
            root=proj.root,
            state_dir=proj.state_dir,
            fresh=True,
        )
        old, new = projects.fingerprints(stack.graph), projects.fingerprints(fresh.graph)
        changed = {n: fresh.graph[n] for n, f in new.items() if old.get(n) != f}
        restarted = await stack.replace(changed)
        info["fingerprints"] = projects.fingerprints(stack.graph)
        return {"changed": sorted(changed), "restarted": restarted}

    sock = endpoint.socket_path(proj.state_dir)
    info = {
        "id": stack.stack_id,
        "profile": proj.label,
        "root": str(proj.root),
        "state_dir": str(proj.state_dir),
        "mode": proj.mode,
        "started": time.time(),
        "services": closure,
        "fingerprints": projects.fingerprints(proj.graph),
    }
    api = ControlApi(stack, info, on_down=stop_now.set, on_reload=reload)
    server = await serve_unix(sock, api)
    endpoint.publish(proj.state_dir, sock, stack.stack_id, proj.label, proj.root)

    mode = f", mode {proj.mode}" if proj.mode else ""
    console.info(
        f"profile {proj.label}{mode}: starting {', '.join(closure)} (state in {proj.state_dir})"
    )
    starting = asyncio.ensure_future(stack.start(wanted))
    interrupted = asyncio.ensure_future(stop_now.wait())
    await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    code = EXIT_OK
    if starting.done() and starting.exception() is None:
        console.info("ready")
        if closure:
            console.table(selection_summary(stack, closure), ["name", "state", "endpoint", "pid"])
        else:
            console.info(f"serving on demand at {sock}")
        await interrupted
    elif starting.done():
        console.error(str(starting.exception()))
        code = EXIT_STARTUP
        interrupted.cancel()
    else:
        code = EXIT_INTERRUPTED
    try:
        stops = await stack.close()
    finally:
        server.close()
        endpoint.withdraw(proj.state_dir, sock)
        if guard is not None:
            watchdog.stop(guard)
        if owner_watch is not None:
            owner_watch.cancel()
    if not starting.done():
        starting.cancel()
    if starting.done() and not starting.cancelled():
        starting.exception()  # retrieved
    if any(not s.graceful for s in stops) and code == EXIT_OK:
        code = EXIT_FORCED
    _summary(console, stops, as_json)
    _record(proj, stops, code)
    return code


def _stops_json(stops: list[ServiceStop]) -> list[dict[str, Any]]:
    return [
        {
            "service": s.service,
            "graceful": s.graceful,
            "duration_s": round(s.duration_s, 4),
            "exit_codes": s.exit_codes,
            "error": s.error,
            "swept": s.swept,
        }
        for s in stops
    ]


def _summary(console: Console, stops: list[ServiceStop], as_json: bool) -> None:
    if as_json:
        console.out.write(json.dumps({"stops": _stops_json(stops)}) + "\n")
        return
    forced = [s.service for s in stops if not s.graceful]
    if forced:
        console.info(f"stopped; forced: {', '.join(forced)}")
    else:
        console.info(f"stopped {len(stops)} services gracefully")


def _record(proj: projects.Project, stops: list[ServiceStop], code: int) -> None:
    """What `stack down` reports after the launcher is gone."""
    data = {"exit_code": code, "stops": _stops_json(stops), "time": time.time()}
    (proj.state_dir / "last-run.json").write_text(json.dumps(data))
