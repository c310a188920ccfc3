"""Commands for a running stack, through its control socket: up, down, status, logs, events,
restart/stop/start/kill/pause/resume, scale, metrics."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click
import psutil

from ..control import detached, endpoint
from ..control.client import ControlClient, ControlError, NotRunning, connect
from ..control.console import Console
from ..engine.cleanup import ledger
from ..engine.events import Event
from .common import (
    EXIT_DEFINITION,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_STARTUP,
    json_option,
    load,
    main,
    profile_option,
    state_dir_option,
)
from .launch import mode_option, report_sweep

STATUS_COLUMNS = [
    "name",
    "state",
    "pid",
    "endpoint",
    "uptime_s",
    "restarts",
    "health",
    "rss_mb",
    "cpu_percent",
]


@contextlib.contextmanager
def client_for(profile: str | None, state_dir: str | None) -> Iterator[ControlClient]:
    proj = load(profile, state_dir)
    try:
        client = connect(proj.state_dir)
    except NotRunning as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    try:
        yield client
    except ControlError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION if e.status < 500 else 1)
    finally:
        client.close()


def stack_options(fn: Any) -> Any:
    return profile_option(state_dir_option(fn))


# ---------------------------------------------------------------------- up / down


@main.command()
@stack_options
@mode_option
@json_option
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for ready.")
@click.argument("services", nargs=-1)
def up(
    profile: str | None,
    state_dir: str | None,
    mode: str | None,
    as_json: bool,
    timeout: float,
    services: tuple[str, ...],
) -> None:
    """Start the stack detached; return once every service is ready, printing the endpoints.

    Like `docker compose up --wait`. Stop it with `stack down`.
    """
    proj = load(profile, state_dir)
    running, _ = endpoint.find(proj.state_dir)
    if running is not None:
        click.echo(
            f"error: a stack already runs with state dir {proj.state_dir} (pid {running.pid})",
            err=True,
        )
        sys.exit(EXIT_DEFINITION)
    log_path = proj.state_dir / "launcher.log"
    log_path.unlink(missing_ok=True)
    argv = detached.launcher_argv(
        proj.state_dir, proj.profile.path if proj.profile else None, mode=mode, services=services
    )
    launcher = detached.start(argv, proj.root, log_path)
    wanted = proj.graph.closure(list(services) or proj.selected)
    try:
        client = detached.wait(
            launcher, proj.state_dir, log_path, timeout, until=detached.all_ready(wanted)
        )
    except detached.LauncherExited as e:
        click.echo(
            "error: the stack failed to start; its launcher said:\n"
            + "\n".join(f"  | {line}" for line in e.tail),
            err=True,
        )
        sys.exit(EXIT_STARTUP)
    except TimeoutError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    status: dict[str, Any] = client.get("/status")
    client.close()
    if as_json:
        click.echo(json.dumps(status))
        return
    click.echo(f"stack {status['stack']['id']} is up (launcher pid {launcher.pid}, log {log_path})")
    rows = [s for s in status["services"] if s["state"] != "pending"]
    Console([r["name"] for r in rows]).table(rows, ["name", "state", "endpoint", "pid"])


@main.command()
@stack_options
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for the launcher to finish stopping.",
)
def down(profile: str | None, state_dir: str | None, timeout: float) -> None:
    """Stop a detached (or foreground) stack gracefully, in reverse order."""
    proj = load(profile, state_dir)
    report_sweep(ledger.sweep())
    ep, why = endpoint.find(proj.state_dir)
    if ep is None:
        click.echo(why)
        sys.exit(EXIT_OK)
    client = ControlClient(ep)
    try:
        client.post("/down")
    finally:
        client.close()
    try:
        psutil.Process(ep.pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        click.echo(
            f"error: the launcher (pid {ep.pid}) is still stopping after {timeout:g}s", err=True
        )
        sys.exit(1)
    code = EXIT_OK
    with contextlib.suppress(OSError, ValueError):
        last = json.loads((proj.state_dir / "last-run.json").read_text())
        code = int(last["exit_code"])
        forced = [s["service"] for s in last["stops"] if not s["graceful"]]
        click.echo(
            f"stopped {len(last['stops'])} services"
            + (f"; forced: {', '.join(forced)}" if forced else " gracefully")
        )
    sys.exit(code)


# ---------------------------------------------------------------------- status, logs, events


@main.command()
@stack_options
@json_option
def status(profile: str | None, state_dir: str | None, as_json: bool) -> None:
    """Each service's state, pid, endpoint, uptime, restarts, health, RSS and CPU.

    --json prints {"stack": {...}, "services": [{"name", "state", "pid", "endpoint",
    "uptime_s", "restarts", "health", "rss_mb", "cpu_percent", ...}]}.
    """
    with client_for(profile, state_dir) as client:
        data = client.get("/status")
    if as_json:
        click.echo(json.dumps(data))
        return
    info = data["stack"]
    click.echo(f"stack {info['id']} (profile {info['profile']}, up {info['uptime_s']:.0f}s)")
    rows = [s for s in data["services"] if s["state"] != "pending"]
    Console([r["name"] for r in rows]).table(rows, STATUS_COLUMNS)


@main.command()
@stack_options
@click.argument("service", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines first.")
@json_option
def logs(
    profile: str | None,
    state_dir: str | None,
    service: str | None,
    follow: bool,
    lines: int,
    as_json: bool,
) -> None:
    """A service's output (all services without SERVICE), prefixed with its name."""
    with client_for(profile, state_dir) as client:
        path = f"/logs/{service}" if service else "/logs"
        data = client.get(path, n=lines)
        console = Console(list(data))
        _print_logs(console, data, as_json)
        while follow:
            marks = {f"since.{n}": v["mark"] for n, v in data.items()}
            data = client.get(path, wait=10, **marks)
            _print_logs(console, data, as_json)


def _print_logs(console: Console, data: dict[str, Any], as_json: bool) -> None:
    for name, part in data.items():
        for line in part["lines"]:
            if as_json:
                click.echo(json.dumps({"service": name, "line": line}))
            else:
                console.line(name, line)


@main.command()
@stack_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events.")
@json_option
def events(profile: str | None, state_dir: str | None, follow: bool, as_json: bool) -> None:
    """Every state change so far (JSON lines with --json: time, service, from, to, reason)."""
    with client_for(profile, state_dir) as client:
        seen = 0
        console = Console([])
        while True:
            batch = client.get("/events", since=seen, wait=10 if follow and seen else 0)
            for e in batch:
                if as_json:
                    click.echo(json.dumps(e))
                else:
                    console.event(Event.from_json(e))
            seen += len(batch)
            if not follow:
                return


@main.command()
@stack_options
def metrics(profile: str | None, state_dir: str | None) -> None:
    """The stack's Prometheus metrics (as served at /metrics on the control socket)."""
    with client_for(profile, state_dir) as client:
        click.echo(client.text("/metrics"), nl=False)


# ---------------------------------------------------------------------- operations


def _action(name: str, help_text: str) -> None:
    @main.command(name=name, help=help_text)
    @stack_options
    @click.argument("service")
    @json_option
    def command(profile: str | None, state_dir: str | None, service: str, as_json: bool) -> None:
        with client_for(profile, state_dir) as client:
            reply = client.post(f"/services/{service}/{name}")
        click.echo(json.dumps(reply) if as_json else _describe(name, service, reply))


def _describe(action: str, service: str, reply: dict[str, Any]) -> str:
    if "signalled" in reply:
        return f"{service}: sent {reply['signal']} to {', '.join(map(str, reply['signalled']))}"
    if "stopped" in reply:
        return f"stopped {', '.join(reply['stopped']) or 'nothing'}"
    return f"{service}: {reply.get('state', 'done')}"


_action("restart", "Restart SERVICE; its dependents follow their edges.")
_action("stop", "Stop SERVICE (and what depends on it), gracefully.")
_action("start", "Start SERVICE (and what it needs) again.")
_action("pause", "Freeze SERVICE with SIGSTOP (fault injection: a hang).")
_action("resume", "Thaw a paused SERVICE with SIGCONT.")


@main.command()
@stack_options
@click.argument("service")
@click.option("--signal", "-s", "sig", default="SIGKILL", show_default=True)
@json_option
def kill(profile: str | None, state_dir: str | None, service: str, sig: str, as_json: bool) -> None:
    """Send a signal to SERVICE's processes (fault injection; the supervisor reacts)."""
    with client_for(profile, state_dir) as client:
        reply = client.post(f"/services/{service}/kill", {"signal": sig})
    click.echo(json.dumps(reply) if as_json else _describe("kill", service, reply))


@main.command()
@stack_options
@click.argument("assignment", metavar="SERVICE=N")
@json_option
def scale(profile: str | None, state_dir: str | None, assignment: str, as_json: bool) -> None:
    """Run N replicas of SERVICE, each with its own port (for services that allow it)."""
    name, sep, count = assignment.partition("=")
    if not sep or not count.isdigit():
        click.echo("error: write SERVICE=N, e.g. `stack scale worker=3`", err=True)
        sys.exit(EXIT_DEFINITION)
    with client_for(profile, state_dir) as client:
        reply = client.post("/scale", {"service": name, "replicas": int(count)})
    if as_json:
        click.echo(json.dumps(reply))
    else:
        click.echo(
            f"{name}: {len(reply['replicas'])} replicas: "
            + ", ".join(f"{n} ({s})" for n, s in reply["states"].items())
        )
