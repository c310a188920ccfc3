"""`stack clean`: remove what stopped stacks keep (data, logs, events), and the kinds' cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..control.exits import EXIT_DEFINITION
from ..errors import DefinitionError
from .common import main, profile_option, state_dir_option


def remove(state_dir: Path) -> bool:
    """Remove one stopped stack's data, saying what was freed; False if it is running."""
    from ..control.clean import human, remove_stack_data

    try:
        freed = remove_stack_data(state_dir)
    except RuntimeError as e:
        click.echo(f"error: {e}; stop it first (`stack down`)", err=True)
        return False
    click.echo(f"removed {state_dir} ({human(freed)} freed)")
    return True


@main.command()
@profile_option
@state_dir_option
@click.option("--all", "everything", is_flag=True, help="Every stopped stack of this project.")
@click.option("--cache", is_flag=True, help="Also the kinds' cache (initdb'd clusters).")
def clean(profile: str | None, state_dir: str | None, everything: bool, cache: bool) -> None:
    """Remove the data, logs and events of stopped stacks, wherever their services keep them
    (PostgreSQL's data outside the state dir included); prints what it freed."""
    from ..config.locate import find_root, state_dir_of
    from ..control.clean import human, size_of
    from ..kinds.cache import cache_root

    root = find_root()
    targets: list[Path] = []
    if state_dir:
        targets.append(Path(state_dir).resolve())
    elif profile:
        try:
            targets.append(state_dir_of(profile, root))
        except DefinitionError as e:  # e.g. no such profile file
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_DEFINITION)
    elif everything:
        base = root / ".stack"
        targets += sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    elif not cache:
        click.echo("error: say which: -p PROFILE, --state-dir DIR, --all, or --cache", err=True)
        sys.exit(EXIT_DEFINITION)
    ok = all([remove(t) for t in targets if t.exists()])
    if not targets and not cache:
        click.echo("nothing to clean")
    if cache:
        import shutil

        where = cache_root()
        freed = size_of(where) if where.exists() else 0
        shutil.rmtree(where, ignore_errors=True)
        click.echo(f"removed the cache {where} ({human(freed)} freed)")
    sys.exit(0 if ok else 1)
