"""Where kinds keep what is worth reusing across stacks (e.g. an initdb'd cluster)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$STACKFIXTURES_CACHE`, else `$XDG_CACHE_HOME/stackfixtures`, else ~/.cache/stackfixtures
    (`stack clean --cache` removes it)."""
    base = os.environ.get("STACKFIXTURES_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stackfixtures"


def cache_dir(kind: str) -> Path:
    """The cache of one kind, created on first use."""
    path = cache_root() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
