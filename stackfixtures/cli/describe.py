"""Commands that need no running stack: `stack graph`, `stack init` and `stack kinds`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._control.exits import EXIT_DEFINITION
from ..errors import DefinitionError
from .common import json_option, load_or_exit, main, profile_option

if TYPE_CHECKING:
    from ..kinds import Kind


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
    proj = load_or_exit(profile, writes_state=False)
    g = proj.graph
    names = g.closure(proj.selected)
    edges = [(n, d, g[n].edge(d)) for n in names for d in g.dependencies(n)]
    if fmt == "mermaid":
        click.echo("graph TD")
        for n in names:
            kind = g[n].kind or "python"
            label = n if kind == n else f"{n}<br/>{kind}"  # not `postgres<br/>postgres`
            click.echo(f'  {n}["{label}"]')
        for n, d, policy in edges:
            click.echo(f"  {n} -->|{policy}| {d}")
    elif fmt == "dot":
        click.echo("digraph stack {\n  rankdir=BT;")
        for n in names:
            kind = g[n].kind or "python"
            label = n if kind == n else f"{n}\\n{kind}"
            click.echo(f'  "{n}" [label="{label}"];')
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
    from .._config.load import dump

    path.write_text(dump(STARTER))
    click.echo(f"wrote {path}; try: stack validate -p {name} && stack run -p {name}")


def option_keys(model: Any) -> dict[str, list[str]]:
    """The keys of each option that is a table (`template` -> after, schema_file, ...)."""
    import typing

    from pydantic import BaseModel

    found: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        for t in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(t, type) and issubclass(t, BaseModel):
                first = getattr(t, "probe_keys", ())  # a probe table: its probes, then timeout
                found[name] = [*first, *(k for k in t.model_fields if k not in first)]
    return found


def options_text(model: Any) -> str:
    """`bin_dir, ..., template = { after, schema_file, hook, name }, cache`."""
    keys = option_keys(model)
    return ", ".join(
        f"{n} = {{ {', '.join(keys[n])} }}" if n in keys else n for n in model.model_fields
    )


def describe_kind(kind: Kind) -> dict[str, Any]:
    """What `stack kinds --json` says of one kind."""
    from ..kinds import builtin_names

    options = kind.options
    return {
        "name": kind.name,
        "summary": kind.summary,
        "handle": list(kind.handle),
        "binaries": kind.binaries,
        "schemes": list(kind.schemes),
        "default_port": kind.default_port,
        "options": list(options.model_fields) if options is not None else [],
        "option_keys": option_keys(options) if options is not None else {},
        "scope": str(kind.service.scope),
        "per_test": kind.per_test,
        "export": kind.container is not None,
        "builtin": kind.name in builtin_names(),
    }


@main.command(name="kinds")
@json_option
def kinds_command(as_json: bool) -> None:
    """The kinds a profile can name: built in, or registered by installed packages through the
    `stackfixtures.kinds` entry-point group."""
    from .. import kinds as registry

    found: list[Kind] = []
    errors: list[str] = []
    for name in registry.names():
        try:
            kind = registry.get(name)
        except DefinitionError as e:
            errors.append(str(e))
            continue
        if kind is not None:
            found.append(kind)
    if as_json:
        click.echo(json.dumps({"kinds": [describe_kind(k) for k in found], "errors": errors}))
    else:
        width = max((len(k.name) for k in found), default=0)
        for kind in found:
            click.echo(f"{kind.name:<{width}}  {kind.summary}")
            pad = " " * (width + 2)
            click.echo(f"{pad}handle: {', '.join(kind.handle) or '-'}")
            if kind.options is not None:
                click.echo(f"{pad}options: {options_text(kind.options)}")
            if kind.binaries:
                click.echo(f"{pad}binaries: {kind.binaries}")
            if kind.schemes:
                click.echo(f"{pad}external URLs: {', '.join(kind.schemes)}")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        sys.exit(EXIT_DEFINITION)
