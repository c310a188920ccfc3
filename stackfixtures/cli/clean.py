"""`stack clean`: remove what stopped stacks keep (data, logs, events), and the kinds' cache.

Only marked state dirs are removed (a directory without the marker, `/`, a home, the project
or a parent of it: exit 2, nothing removed); what could not be removed is named (exit 1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._control.exits import EXIT_DEFINITION, EXIT_OK
from ..errors import DefinitionError
from .common import main, profile_option, state_dir_option

if TYPE_CHECKING:
    from .._control.clean import Removed


def remove(state_dir: Path, project_roots: Iterable[Path] = ()) -> int:
    """Remove one stopped stack's data, saying what was freed. Its exit code: 0; 1 if the
    stack runs or something could not be removed; 2 if it is not a state dir (nothing
    removed)."""
    from .._control.clean import remove_stack_data
    from ..errors import NotAStateDir

    if not os.path.lexists(state_dir):
        return EXIT_OK
    try:
        done = remove_stack_data(state_dir, project_roots)
    except NotAStateDir as e:
        click.echo(f"error: {e}", err=True)
        return EXIT_DEFINITION
    except RuntimeError as e:
        click.echo(f"error: {e}; stop it first (`stack down`)", err=True)
        return 1
    return report(str(state_dir), done)


def report(what: str, done: Removed) -> int:
    """Say what a removal freed, or what it could not remove (exit code 1)."""
    from .._control.clean import human

    if not done.failed:
        click.echo(f"removed {what} ({human(done.freed)} freed)")
        return EXIT_OK
    click.echo(
        f"error: could not remove all of {what} ({human(done.freed)} freed); left:\n"
        + "\n".join(f"  {failure}" for failure in done.failed),
        err=True,
    )
    return 1


@main.command()
@profile_option
@state_dir_option
@click.option("--all", "everything", is_flag=True, help="Every stopped stack of this project.")
@click.option("--cache", is_flag=True, help="Also the kinds' cache (initdb'd clusters).")
def clean(profile: str | None, state_dir: str | None, everything: bool, cache: bool) -> None:
    """Remove the data, logs and events of stopped stacks, wherever their services keep them
    (PostgreSQL's data outside the state dir included); prints what it freed. Only a state
    dir a stack made is removed (it carries a marker), and links in it are removed as links."""
    from .._config.locate import find_root, state_dir_of
    from .._control.clean import remove_tree
    from ..kinds.cache import cache_root

    root = find_root()
    targets: list[Path] = []
    if state_dir:
        targets.append(Path(os.path.abspath(state_dir)))  # not resolved: a link is refused
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
        found = _obvious(root)
        if found is None:
            click.echo("error: say which: -p PROFILE, --state-dir DIR, --all, or --cache", err=True)
            sys.exit(EXIT_DEFINITION)
        targets.append(found)
    present = [t for t in targets if os.path.lexists(t)]
    code = max([remove(t, [root]) for t in present], default=EXIT_OK)
    if not present and not cache:
        click.echo("nothing to clean")
    if cache:
        where = cache_root()
        if os.path.lexists(where):
            code = max(code, report(f"the cache {where}", remove_tree(where)))
        else:
            click.echo(f"removed the cache {where} (0 B freed)")
    sys.exit(code)


def _obvious(root: Path) -> Path | None:
    """The stack `clean` means when none is named: the chosen profile's (_config/choose.py),
    else the only one under the project's .stack/; None when there is no obvious one."""
    from .._config.choose import choose
    from .._config.locate import state_dir_of

    choice = choose(root)
    if choice is not None:
        try:
            return state_dir_of(choice.profile, root)
        except DefinitionError:
            return None
    base = root / ".stack"
    stacks = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    return Path(os.path.abspath(stacks[0])) if len(stacks) == 1 else None
