"""The live terminal view of a running stack (`stack run` on a terminal, `stack up --attach`,
`stack attach`). This module only decides whether to show it; Textual is imported by
`app.py` when the view is really opened, so `stack` itself starts fast."""

from __future__ import annotations

import importlib.util
import os
import sys


def available() -> bool:
    """Whether Textual is installed (the `live` extra, pulled in by `backend` and `test`)."""
    return importlib.util.find_spec("textual") is not None


def terminal() -> bool:
    """Whether a person is at a terminal that can show it: stdin and stdout are terminals and
    TERM is not `dumb` (NO_COLOR keeps the view, without colour)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return os.environ.get("TERM", "dumb") not in ("dumb", "")


NEEDS_TEXTUAL = "needs Textual: pip install 'stackfixtures[live]'"


def missing() -> str | None:
    """Why the live view cannot be shown here, said once (`needs a terminal`, or `needs
    Textual: ...`), or None when it can."""
    if not terminal():
        return "needs a terminal"
    return None if available() else NEEDS_TEXTUAL


def wanted(no_tui: bool = False) -> bool:
    """Show the live view: at a terminal, not turned off, and Textual installed (else a note
    on stderr and the plain prefixed lines)."""
    if no_tui or not terminal():
        return False
    if not available():
        print(f"[stack] the live view {NEEDS_TEXTUAL} (showing plain output)", file=sys.stderr)
        return False
    return True
