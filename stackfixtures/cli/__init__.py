"""The `stack` command. Each module of cli/ registers its commands on the one group, imported
when one of them first runs (COMMANDS)."""

from __future__ import annotations

from .common import main

__all__ = ["main"]

COMMANDS = {
    "attach": "updown",
    "bench": "bench",
    "clean": "clean",
    "dashboard": "dashboard",
    "down": "updown",
    "env": "env",
    "events": "logs",
    "exec": "exec",
    "export": "export",
    "graph": "describe",
    "import": "importing",
    "init": "describe",
    "kill": "operate",
    "kinds": "describe",
    "logs": "logs",
    "mcp": "mcp",
    "metrics": "operate",
    "pause": "operate",
    "report": "report",
    "restart": "operate",
    "resume": "operate",
    "run": "run",
    "scale": "operate",
    "start": "operate",
    "status": "operate",
    "stop": "operate",
    "top": "top",
    "up": "updown",
    "validate": "run",
}
"""The module of cli/ that registers each command: imported only when the command runs (a new
command: its module here, its line in SHORT_HELP; tests/test_imports_cli.py checks both)."""

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


main.lazily(COMMANDS, SHORT_HELP)
