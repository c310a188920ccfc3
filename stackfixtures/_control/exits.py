"""The exit codes of `stack` commands and of the launcher, documented in `stack --help`."""

from __future__ import annotations

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
"""Ctrl-C or SIGTERM (to `stack up` too: not 143) arrived before the stack was ready, or a
`stack down` stopped the start; what had started was stopped."""


def shell_code(returncode: int) -> int:
    """A process's exit as a shell reports it: its code, or 128 + N when signal N killed it
    (Popen gives -N)."""
    return 128 - returncode if returncode < 0 else returncode
