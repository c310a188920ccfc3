"""`stack mcp`: the running stacks of this project for a coding agent, as a Model Context
Protocol server on stdio (stackfixtures/_mcp/)."""

from __future__ import annotations

import sys

import click

from .._control.exits import EXIT_DEFINITION
from ..errors import DefinitionError, StackError
from .common import main, profile_option, state_dir_option
from .logs import quiet_interrupt

NEEDS_MCP = "stack mcp needs the MCP SDK: pip install 'stackfixtures[mcp]'"


@main.command()
@profile_option
@state_dir_option
def mcp(profile: str | None, state_dir: str | None) -> None:
    """Serve the project's running stacks to an MCP client (a coding agent) on stdio: tools
    for their status, logs (read and search), events, endpoint environment, restart, stop
    and start of a service, and the timeline report; each service's log as a resource
    (stack://PROFILE/logs/SERVICE).

    The stack a tool means: its `stack` argument, else -p/--state-dir given here, else the
    one running (as other commands choose). Started by the client, from the project's
    directory (the project is found from the working directory, as for every command).
    It starts no stack: one that is not running yet is an error of the tools until it is.
    """
    from .._config.locate import find_root
    from .._control.console import error_text
    from .._control.discover import state_dir_for

    root = find_root()
    try:  # a mistyped -p is said now, not by every tool later
        state_dir_for(profile, state_dir, root)
    except DefinitionError as e:
        click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)
    except StackError:  # none running yet, or several: each tool says so when asked
        pass
    try:
        from .._mcp.server import serve
    except ImportError as e:
        if e.name is None or not e.name.startswith("mcp"):
            raise
        click.echo(f"error: {NEEDS_MCP}", err=True)
        sys.exit(1)
    from .._mcp.stacks import Stacks

    with quiet_interrupt():  # Ctrl-C ends it as a person means it: exit 0, no traceback
        serve(Stacks(root, profile, state_dir))
