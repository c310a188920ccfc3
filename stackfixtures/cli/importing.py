"""`stack import compose FILE`: a compose file as a profile (its services of kind `container`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._control.console import error_text, plural
from .._control.exits import EXIT_DEFINITION
from .._engine import private_files
from ..errors import ProfileError
from .common import main


@main.group(name="import")
def import_group() -> None:
    """Write a profile from another orchestrator's file."""


@import_group.command(name="compose")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the profile to this file (default: stdout).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def import_compose(file: Path, output: Path | None, force: bool) -> None:
    """A profile with one `container` service per Compose service. Every key it cannot
    honour is listed with its file:line, and nothing is written (or `[stack] include` the
    compose file to keep it as it is)."""
    from .._config.load import dump
    from .._config.read import read_compose

    if output is not None and output.exists() and not force:
        click.echo(f"error: {output} exists (use --force to overwrite)", err=True)
        sys.exit(EXIT_DEFINITION)
    target_dir = (output.parent if output is not None else Path.cwd()).resolve()
    try:
        found = read_compose(file.resolve(), target_dir)
    except ProfileError as e:
        click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)
    if found.problems:
        click.echo(error_text(ProfileError.of(found.problems)), err=True)
        sys.exit(EXIT_DEFINITION)
    text = f"# written by `stack import compose {file}`\n" + dump({"services": found.services})
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    # values from the environment or env files (a password?) are written in it: then private
    private_files.write(output, text, private_files.MODE if found.variables else 0o644)
    click.echo(f"wrote {output} ({plural(len(found.services), 'service')})")
    if found.variables:
        names = ", ".join(found.variables)
        click.echo(
            f"note: it holds the values of {names} (mode 0600): check before sharing", err=True
        )
