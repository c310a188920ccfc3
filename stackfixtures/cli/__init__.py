"""The `stack` command. Each module registers its subcommands on the one group."""

from __future__ import annotations

from . import bench, clean, describe, exec, export, operate, report, run, updown  # noqa: F401 - importing registers the commands
from .common import main

__all__ = ["main"]
