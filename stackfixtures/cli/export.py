"""`stack export compose|k8s`: the profile's graph for Docker Compose or Kubernetes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._control.console import error_text, plural
from .._control.exits import EXIT_DEFINITION
from .._engine import private_files
from ..errors import ProfileError
from .common import load_or_exit, main, profile_option


@main.group(name="export")
def export_group() -> None:
    """Describe the stack for other orchestrators (the dependency order is written once)."""


@export_group.command(name="compose")
@profile_option
@click.option("-o", "--output", default=None, help="Write to this file (default: stdout).")
def export_compose(profile: str | None, output: str | None) -> None:
    """A Compose file: depends_on with health conditions, healthchecks, stop signals, images."""
    import yaml

    from .._export import compose as compose_export

    proj = load_or_exit(profile, writes_state=False)
    try:
        doc = compose_export.document(proj)
    except ProfileError as e:
        click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)
    text = yaml.safe_dump(doc, sort_keys=False)
    if output:
        private_files.write(Path(output), text)  # 0600: it may hold a password
        click.echo(f"wrote {output} ({plural(len(doc['services']), 'service')})")
    else:
        click.echo(text, nl=False)


@export_group.command(name="k8s")
@profile_option
@click.option(
    "-o",
    "--output",
    default=None,
    help="Write NAME.yaml per service into this directory (default: stdout).",
)
def export_k8s(profile: str | None, output: str | None) -> None:
    """Kubernetes objects: Deployments/StatefulSets, Services, probes, preStop, init waits."""
    import yaml

    from .._export import k8s as k8s_export

    proj = load_or_exit(profile, writes_state=False)
    try:
        objects = k8s_export.objects(proj)
    except ProfileError as e:
        click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)
    if output:
        out = Path(output)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, docs in objects.items():  # 0600 each: they may hold a password
            private_files.write(out / f"{name}.yaml", yaml.safe_dump_all(docs, sort_keys=False))
        click.echo(f"wrote {len(objects)} files to {out}")
    else:
        click.echo(
            yaml.safe_dump_all([d for docs in objects.values() for d in docs], sort_keys=False),
            nl=False,
        )
