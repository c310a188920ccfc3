"""`stack top`: the processes each service runs, its children included (like
`docker compose top`), read with psutil from the pids its launcher reports."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import click
import psutil

from .._control.console import Console
from .common import check_names, control_for, json_option, main, stack_options

COLUMNS = ["service", "pid", "ppid", "user", "time", "rss_mb", "command"]

_SECRET_ARG = re.compile(r"((?:passw(?:or)?d|secret|token)[^=:\s]*[=:])(\S+)", re.IGNORECASE)
_SECRET_FLAG = re.compile(r"--?[\w-]*(?:passw(?:or)?d|secret|token)[\w-]*$", re.IGNORECASE)


def masked_argv(argv: list[str], secrets: set[str]) -> str:
    """A command line as shown: the stack's secrets, URL passwords, `password=...`-like
    arguments and the value after a `--password`/`--token`-like flag replaced by `***`."""
    from .._engine.masking import HIDDEN, mask

    shown = []
    for i, arg in enumerate(argv):
        if i > 0 and _SECRET_FLAG.match(argv[i - 1]):
            shown.append(HIDDEN)
            continue
        shown.append(_SECRET_ARG.sub(rf"\1{HIDDEN}", mask(arg, secrets)))
    return " ".join(shown)


def cpu_time(seconds: float) -> str:
    """`0:03`, `12:41`: CPU time as `ps` shows it (minutes:seconds)."""
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def describe(service: str, proc: psutil.Process, secrets: set[str]) -> dict[str, Any] | None:
    """One row, or None when the process is gone meanwhile."""
    try:
        with proc.oneshot():
            times = proc.cpu_times()
            row: dict[str, Any] = {
                "service": service,
                "pid": proc.pid,
                "ppid": proc.ppid(),
                "time": cpu_time(times.user + times.system),
                "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                "user": "?",
                "command": proc.name(),
            }
            with contextlib.suppress(psutil.AccessDenied, KeyError):
                row["user"] = proc.username()
            with contextlib.suppress(psutil.AccessDenied):
                row["command"] = masked_argv(proc.cmdline(), secrets) or row["command"]
            return row
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:  # another user's process: what is known without reading it
        return {"service": service, "pid": proc.pid, "command": "?"}


def rows_of(service: str, pids: list[int], secrets: set[str]) -> list[dict[str, Any]]:
    """Each of a service's processes and, below each, its descendants."""
    out = []
    for pid in pids:
        try:
            top = psutil.Process(pid)
            family = [top, *top.children(recursive=True)]
        except psutil.Error:
            continue
        out += [row for p in family if (row := describe(service, p, secrets)) is not None]
    return out


@main.command()
@stack_options
@click.argument("services", nargs=-1)
@json_option
def top(
    profile: str | None, state_dir: str | None, services: tuple[str, ...], as_json: bool
) -> None:
    """The processes of SERVICES (all without one), their children included: pid, parent,
    user, CPU time, memory and command line, like `docker compose top`."""
    from .._engine.masking import secrets_in

    with control_for(profile, state_dir) as control:
        data = control.status()
        known = [s["name"] for s in data["services"]]
        check_names(services, known)
        secrets: set[str] = set()  # what the handles hold (a database password, say)
        for name in known:
            with contextlib.suppress(Exception):  # not up: it hands out nothing
                secrets |= secrets_in(control.handle(name).as_dict())
    rows = []
    for s in data["services"]:
        if not services or s["name"] in services:
            pids = list(s.get("pids") or ([s["pid"]] if s["pid"] else []))
            rows += rows_of(s["name"], pids, secrets)
    if as_json:
        click.echo(json.dumps({"processes": rows}))
        return
    if not rows:
        click.echo("no service runs a process")
        return
    Console(sorted({r["service"] for r in rows})).table(rows, COLUMNS)
