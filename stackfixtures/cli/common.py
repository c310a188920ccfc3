"""What every `stack` subcommand shares: the command group, options, exit codes, loading."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import project as projects
from ..errors import DefinitionError, ProfileError

EXIT_OK = 0
"""Every service started, and every stop was graceful."""
EXIT_FORCED = 1
"""At least one service had to be killed (its grace ran out, or a second Ctrl-C)."""
EXIT_DEFINITION = 2
"""The profile or the service definitions are invalid, or a usage error; nothing was started."""
EXIT_STARTUP = 3
"""A service failed to start; everything that had started was stopped."""
EXIT_NOT_RUNNING = 4
"""A command for a running stack found none (a stale control socket, if any, was removed)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM arrived before the stack was ready; what had started was stopped."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stackfixtures")
def main() -> None:
    """Start a backend of dependent services in order, and stop it in reverse.

    Services are pytest-style fixtures (or profile entries); the same graph runs under pytest.
    Exit codes: 0 all graceful, 1 some stop forced, 2 invalid profile or usage, 3 startup
    failed, 4 no running stack, 130 interrupted before ready.
    """


profile_option = click.option(
    "--profile",
    "-p",
    "profile",
    default=None,
    envvar="STACK_PROFILE",
    help="Profile name (profiles/NAME.toml under the project root) or a path to a TOML file.",
)

state_dir_option = click.option(
    "--state-dir",
    default=None,
    envvar="STACK_STATE_DIR",
    help="Where the stack keeps data, logs and events (default: .stack/PROFILE under the root).",
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (JSON)."
)


def load(
    profile: str | None, state_dir: str | None = None, as_json: bool = False
) -> projects.Project:
    """The project for a profile, or exit 2 with the file and key of the problem."""
    try:
        return projects.load(profile, state_dir=Path(state_dir).resolve() if state_dir else None)
    except DefinitionError as e:
        if as_json:
            error: dict[str, object] = {"ok": False, "error": str(e)}
            if isinstance(e, ProfileError):
                error.update(file=e.file, key=e.key)
            click.echo(json.dumps(error))
        else:
            click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
