"""The launcher: the process that runs a stack and serves its control socket.

`stack run` is the launcher in the foreground; `stack up`, pytest's shared stack and the
shutdown benchmark start the same module detached (`python -m stackfixtures._launcher`).
It prints service output prefixed with names and a line per state change, stops everything in
reverse order on SIGINT/SIGTERM (a second Ctrl-C skips the remaining grace), and records how
each stop went in `last-run.json`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

from .options import Options, argv

if TYPE_CHECKING:
    from pathlib import Path

    from .._control.console import Console
    from .._engine.cleanup.swept import Swept

__all__ = ["Options", "argv", "finish", "launch", "report_sweep"]


def launch(opts: Options, console: Console | None = None) -> int:
    """Run the stack until it is stopped; the exit code (see _control/exits.py). What it needs
    is imported here, so that `Options` and `argv` stay light for those who only start one."""
    from .entry import run

    return run(opts, console)


def finish(code: int) -> None:
    """Exit with `code` at once. Everything is written and closed by now (the event log, the
    services' logs, last-run.json); the interpreter's own teardown of the modules a launcher
    loads would take ~80 ms more, and the stack counts as stopped only once we are gone."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # `stack run | head`: the reader is gone
            stream.flush()
    os._exit(code)


def report_sweep(console: Console, swept: Swept, root: Path | None = None) -> None:
    """Say what was left of crashed stacks and has just been stopped or removed (or kept: an
    engine that did not answer): of which project (when it is not `root`, the one the command
    runs for) and which state dir."""
    for line in swept.lines(root):
        console.info(line)
