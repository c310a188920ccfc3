"""The `stack` command. Each module registers its subcommands on the one group."""

from __future__ import annotations

import click

from . import (  # noqa: F401 - importing registers the commands
    bench,
    clean,
    dashboard,
    describe,
    exec,
    export,
    importing,
    logs,
    mcp,
    operate,
    report,
    run,
    top,
    updown,
)
from .common import main

__all__ = ["main"]

SHORT_HELP = {
    "attach": "The live view of a running stack.",
    "bench": "Benchmarks a team runs in CI.",
    "clean": "Remove the data and logs of stopped stacks.",
    "dashboard": "A web page of the running stack, live.",
    "down": "Stop a running stack gracefully, in reverse.",
    "env": "The running stack's endpoints as variables.",
    "events": "Every state change so far, with its time.",
    "exec": "Run a command with the stack's endpoints.",
    "export": "The stack for Compose or Kubernetes.",
    "graph": "Who depends on whom, and start levels.",
    "import": "A profile from a compose file.",
    "init": "Write a starter profile.",
    "kill": "Signal a service's processes (fault injection).",
    "kinds": "The kinds a profile can name.",
    "logs": "Services' output (all without SERVICE).",
    "mcp": "An MCP server on stdio for coding agents.",
    "metrics": "The stack's Prometheus metrics.",
    "pause": "Freeze a service with SIGSTOP (a hang).",
    "report": "The stack's timeline as one HTML file.",
    "restart": "Restart a service; dependents follow edges.",
    "resume": "Thaw a paused service with SIGCONT.",
    "run": "Start the stack in the foreground.",
    "scale": "Run N replicas of a service.",
    "start": "Start a service (and what it needs) again.",
    "status": "Each service's state, endpoint, health, why (also: ps).",
    "stop": "Stop a service and its dependents, gracefully.",
    "top": "The processes each service runs.",
    "up": "Start the stack detached; return once ready.",
    "validate": "Check a profile: every mistake, with its line.",
    "shutdown": "Graceful-stop reliability under traffic.",
    "chaos": "Faults under traffic: leftovers, harm, loss, slow answers.",
    "compose": "A Compose file with health-gated depends_on.",
    "import compose": "Its services as container services.",
    "k8s": "Kubernetes objects with probes and stop hooks.",
}
"""What `stack --help` lists for each command: one line that fits, so click never cuts it
with "..." (the docstrings stay whole in each command's own --help)."""


def _short_help(group: click.Group) -> None:
    for name, command in group.commands.items():
        found = SHORT_HELP.get(f"{group.name} {name}", SHORT_HELP.get(name))
        command.short_help = found or command.short_help
        if isinstance(command, click.Group):
            _short_help(command)


_short_help(main)
