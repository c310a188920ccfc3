"""Commands on a profile, no running stack needed: `stack graph` and `stack init`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config.load import dump
from ..control.exits import EXIT_DEFINITION
from .common import load, main, profile_option


@main.command()
@profile_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
)
def graph(profile: str | None, fmt: str) -> None:
    """The service graph: who depends on whom, with each edge's policy, and start levels."""
    proj = load(profile)
    g = proj.graph
    names = g.closure(proj.selected)
    edges = [(n, d, g[n].edge(d)) for n in names for d in g.dependencies(n)]
    if fmt == "mermaid":
        click.echo("graph TD")
        for n in names:
            click.echo(f'  {n}["{n}<br/>{g[n].kind or "python"}"]')
        for n, d, policy in edges:
            click.echo(f"  {n} -->|{policy}| {d}")
    elif fmt == "dot":
        click.echo("digraph stack {\n  rankdir=BT;")
        for n in names:
            click.echo(f'  "{n}" [label="{n}\\n{g[n].kind or "python"}"];')
        for n, d, policy in edges:
            click.echo(f'  "{n}" -> "{d}" [label="{policy}"];')
        click.echo("}")
    else:
        for i, level in enumerate(g.levels(names)):
            click.echo(f"level {i}:")
            for n in level:
                deps = ", ".join(f"{d} ({g[n].edge(d)})" for d in g.dependencies(n))
                click.echo(f"  {n} [{g[n].kind or 'python'}]" + (f" <- {deps}" if deps else ""))


STARTER = {
    "stack": {"services": ["web"]},
    "services": {
        "db": {"kind": "postgres"},
        "cache": {"kind": "redis"},
        "web": {
            "command": ["python", "-m", "http.server", "${port}", "--bind", "127.0.0.1"],
            "depends_on": ["db", "cache"],
            "env": {"DATABASE_URL": "${db.dsn}", "REDIS_URL": "${cache.url}"},
            "ready": {"http": "http://127.0.0.1:${port}/"},
            "stop": {"signal": "SIGTERM", "grace": 10},
            "restart": {"policy": "on-failure", "max_restarts": 5},
        },
    },
}


@main.command()
@click.argument("name", default="dev")
@click.option("--force", is_flag=True, help="Overwrite an existing profile.")
def init(name: str, force: bool) -> None:
    """Write a starter profile (profiles/NAME.toml): PostgreSQL, Redis and a web command."""
    path = Path.cwd() / "profiles" / f"{name}.toml"
    if path.exists() and not force:
        click.echo(f"error: {path} exists (use --force to overwrite)", err=True)
        sys.exit(EXIT_DEFINITION)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(STARTER))
    click.echo(f"wrote {path}; try: stack validate -p {name} && stack run -p {name}")
