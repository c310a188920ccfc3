"""The `stack` command: run the same service graph that the pytest plugin serves, outside tests."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from . import project as projects
from .console import Console
from .errors import DefinitionError, StartError
from .runtime.stack import ServiceStop, Stack, selection_summary

EXIT_OK = 0
"""Every service started, and every stop was graceful."""
EXIT_FORCED = 1
"""At least one service had to be killed (its grace ran out, or a second Ctrl-C)."""
EXIT_DEFINITION = 2
"""The profile or the service definitions are invalid; nothing was started."""
EXIT_STARTUP = 3
"""A service failed to start; everything that had started was stopped."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM arrived before the stack was ready; what had started was stopped."""

profile_option = click.option(
    "--profile",
    "-p",
    "profile",
    default=None,
    envvar="STACK_PROFILE",
    help="Profile name (profiles/NAME.toml under the project root) or a path to a TOML file.",
)


state_dir_option = click.option(
    "--state-dir",
    default=None,
    envvar="STACK_STATE_DIR",
    help="Where the stack keeps data, logs and events (default: .stack/PROFILE under the root).",
)


def _load(profile: str | None, state_dir: str | None = None) -> projects.Project:
    try:
        return projects.load(profile, state_dir=Path(state_dir).resolve() if state_dir else None)
    except DefinitionError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stackfixtures")
def main() -> None:
    """Start a backend of dependent services in order, and stop it in reverse.

    Services are pytest-style fixtures (or profile entries); the same graph runs under pytest.
    """


@main.command()
@profile_option
def validate(profile: str | None) -> None:
    """Check a profile and its service graph; exit non-zero with the file and key on error."""
    proj = _load(profile)
    levels = proj.graph.levels(proj.graph.closure(proj.selected))
    where = proj.profile.path if proj.profile else proj.root
    click.echo(f"ok: {where}: {len(proj.graph)} services")
    for i, level in enumerate(levels):
        click.echo(f"  start level {i}: {', '.join(level)}")


@main.command()
@profile_option
@click.argument("services", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.option(
    "--mode",
    type=click.Choice(["single", "multi"]),
    default=None,
    help="Override the profile's mode: single (one process for all components) "
    "or multi (one process each).",
)
@state_dir_option
def run(
    profile: str | None,
    services: tuple[str, ...],
    as_json: bool,
    mode: str | None,
    state_dir: str | None,
) -> None:
    """Start SERVICES (default: the profile's) and what they need, in the foreground.

    Ctrl-C or SIGTERM stops everything gracefully in reverse order; a second Ctrl-C skips the
    remaining grace. Exit codes: 0 all graceful, 1 some stop forced, 2 invalid profile,
    3 startup failed, 130 interrupted before ready.
    """
    proj = _load(profile, state_dir)
    wanted = list(services) or proj.selected
    for name in wanted:
        if name not in proj.graph:
            click.echo(
                f"error: unknown service {name!r} (defined: {', '.join(proj.graph.names)})",
                err=True,
            )
            sys.exit(EXIT_DEFINITION)
    if mode is not None:
        proj.mode = mode
    sys.exit(asyncio.run(_run(proj, wanted, as_json)))


async def _run(proj: projects.Project, wanted: list[str], as_json: bool) -> int:
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
    stack.events.subscribe(lambda e: console.event(e) if e.service in closure else None)
    stop_now = asyncio.Event()
    interrupts = 0

    def on_signal(signum: int) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            console.info(
                f"{signal.Signals(signum).name}: stopping in reverse order "
                "(Ctrl-C again to skip the remaining grace)"
            )
            stop_now.set()
        else:
            console.info("stopping now: killing what is still running")
            stack.force()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

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
        console.table(selection_summary(stack, closure), ["name", "state", "endpoint", "pid"])
        await interrupted
    elif starting.done():
        err = starting.exception()
        console.error(str(err))
        code = EXIT_STARTUP
        interrupted.cancel()
    else:
        code = EXIT_INTERRUPTED
    stops = await stack.close()
    if not starting.done():
        starting.cancel()
    if starting.done() and not starting.cancelled():
        starting.exception()  # retrieved
    forced = [s for s in stops if not s.graceful]
    _summary(console, stops, as_json)
    if forced and code == EXIT_OK:
        code = EXIT_FORCED
    return code


def _summary(console: Console, stops: list[ServiceStop], as_json: bool) -> None:
    if as_json:
        data: list[dict[str, Any]] = [
            {
                "service": s.service,
                "graceful": s.graceful,
                "duration_s": round(s.duration_s, 4),
                "exit_codes": s.exit_codes,
                "error": s.error,
            }
            for s in stops
        ]
        console.out.write(json.dumps({"stops": data}) + "\n")
        return
    forced = [s.service for s in stops if not s.graceful]
    if forced:
        console.info(f"stopped; forced: {', '.join(forced)}")
    else:
        console.info(f"stopped {len(stops)} services gracefully")


def _exit_for(err: BaseException) -> int:
    if isinstance(err, DefinitionError):
        return EXIT_DEFINITION
    if isinstance(err, StartError):
        return EXIT_STARTUP
    return 1


if __name__ == "__main__":  # pragma: no cover
    main()
