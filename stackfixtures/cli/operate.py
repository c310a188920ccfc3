"""Commands for a running stack, through the control protocol (never importing the project's
code): status (`ps`), metrics, restart/stop/start/kill/pause/resume, scale. Its output is
logs.py's, its processes top.py's."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .._control import codec
from .._control.console import Console
from .._control.exits import EXIT_DEFINITION
from .._ended import exit_name
from .common import control_for, json_option, main, stack_options

STATUS_COLUMNS = [
    "name",
    "state",
    "pid",
    "endpoint",
    "uptime",
    "restarts",
    "health",
    "rss_mb",
    "cpu_percent",
    "last_exit",
    "reason",
]


def humanize(seconds: float) -> str:
    """`42s`, `4m 12s`, `3h 05m`, `2d 4h`: a duration as people read it."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _for_people(row: dict[str, Any]) -> dict[str, Any]:
    """A status row as the table shows it: uptime humanized, `-` for no health probe."""
    up = row.get("uptime_s") or 0.0
    return {
        **row,
        "uptime": humanize(up) if up else "",
        "health": row.get("health") or "-",
        "last_exit": exit_name(row.get("last_exit_code")),
        "reason": row.get("reason") or "",
    }


@main.command()
@stack_options
@json_option
def status(profile: str | None, state_dir: str | None, as_json: bool) -> None:
    """Each service's state, pid, endpoint, uptime, restarts, health, RSS, CPU, last exit
    and why it is in its state.

    --json prints {"stack": {..., "launcher_pid"}, "services": [{"name", "state", "pid", "endpoint",
    "uptime_s", "restarts", "health" (null: no liveness probe), "rss_mb", "cpu_percent",
    "last_exit_code", "reason", ...}]}; with `[stack] events`, the stack's "events": {"target",
    "subject", "published", "queued", "dropped", "connected", "last_error"}.
    """
    with control_for(profile, state_dir) as control:
        data = control.status()
    if as_json:
        click.echo(json.dumps(data))
        return
    info = data["stack"]
    pid = f", launcher pid {info['launcher_pid']}" if info.get("launcher_pid") else ""
    click.echo(
        f"stack {info['id']} (profile {info['profile']}, up {humanize(info['uptime_s'])}{pid})"
    )
    rows = [_for_people(s) for s in data["services"] if s["state"] != "pending"]
    Console([r["name"] for r in rows]).table(rows, STATUS_COLUMNS)
    if info.get("events"):
        click.echo(_events_line(info["events"]))


def _events_line(bus: dict[str, Any]) -> str:
    """`[stack] events`: where they go and how it goes, e.g. `events: stack.dev.* on
    nats://127.0.0.1:4222: 12 published, 0 dropped, connected`."""
    how = "connected" if bus["connected"] else f"not connected ({bus['last_error'] or 'yet'})"
    figures = f"{bus['published']} published, {bus['queued']} queued, {bus['dropped']} dropped"
    return f"events: {bus['subject']}.* on {bus['target']}: {figures}, {how}"


@main.command()
@stack_options
def metrics(profile: str | None, state_dir: str | None) -> None:
    """The stack's Prometheus metrics (as served at /metrics on the control socket)."""
    with control_for(profile, state_dir) as control:
        click.echo(control.metrics(), nl=False)


# ---------------------------------------------------------------------- operations

ACTIONS = {
    "restart": "Restart SERVICE; its dependents follow their edges.",
    "pause": "Freeze SERVICE with SIGSTOP (fault injection: a hang).",
    "resume": "Thaw a paused SERVICE with SIGCONT.",
}


def _operate(action: str, service: str, control: Any) -> tuple[dict[str, Any], str]:
    """Run one verb; its JSON answer (the control server's, codec's) and the line people read."""
    if action in ("pause", "resume"):
        pids = getattr(control, action)(service)
        reply = codec.signalled_to_json(pids, "SIGSTOP" if action == "pause" else "SIGCONT")
        return reply, _sent(service, reply)
    control.restart(service)
    state = str(control.state(service))
    return {"service": service, "state": state}, f"{service}: {state}"


def _sent(service: str, reply: dict[str, Any]) -> str:
    return f"{service}: sent {reply['signal']} to {', '.join(map(str, reply['signalled']))}"


def _action(name: str, help_text: str) -> None:
    @main.command(name=name, help=help_text)
    @stack_options
    @click.argument("service")
    @json_option
    def command(profile: str | None, state_dir: str | None, service: str, as_json: bool) -> None:
        with control_for(profile, state_dir) as control:
            reply, text = _operate(name, service, control)
        click.echo(json.dumps(reply) if as_json else text)


for _name, _help in ACTIONS.items():
    _action(_name, _help)


@main.command()
@stack_options
@click.argument("services", metavar="SERVICE...", nargs=-1, required=True)
@json_option
def stop(
    profile: str | None, state_dir: str | None, services: tuple[str, ...], as_json: bool
) -> None:
    """Stop each SERVICE (and what depends on them), gracefully, in one request."""
    with control_for(profile, state_dir) as control:
        reply = codec.stopped_to_json(control.stop(list(services)))
    click.echo(
        json.dumps(reply) if as_json else f"stopped {', '.join(reply['stopped']) or 'nothing'}"
    )


@main.command()
@stack_options
@click.argument("services", metavar="SERVICE...", nargs=-1, required=True)
@json_option
def start(
    profile: str | None, state_dir: str | None, services: tuple[str, ...], as_json: bool
) -> None:
    """Start each SERVICE (and what they need) again, together, in one request."""
    with control_for(profile, state_dir) as control:
        handles = control.start(list(services))
        reply = codec.started_to_json(handles, {n: control.state(n) for n in services})
    lines = (f"{n}: {state}" for n, state in reply["states"].items())
    click.echo(json.dumps(reply) if as_json else "\n".join(lines))


@main.command()
@stack_options
@click.argument("service")
@click.option("--signal", "-s", "sig", default="SIGKILL", show_default=True)
@json_option
def kill(profile: str | None, state_dir: str | None, service: str, sig: str, as_json: bool) -> None:
    """Send a signal to SERVICE's processes (fault injection; the supervisor reacts)."""
    with control_for(profile, state_dir) as control:
        reply = codec.signalled_to_json(control.kill(service, sig), sig)
    click.echo(json.dumps(reply) if as_json else _sent(service, reply))


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
    with control_for(profile, state_dir) as control:
        states = control.scale(name, int(count))
    if as_json:
        click.echo(json.dumps(codec.scaled_to_json(name, states)))
    else:
        click.echo(
            f"{name}: {len(states)} replica{'s' if len(states) != 1 else ''}: "
            + ", ".join(f"{n} ({s})" for n, s in states.items())
        )
