"""Where kinds keep what is worth reusing across stacks (e.g. an initdb'd cluster)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """`$STACKFIXTURES_CACHE/<kind>`, else `$XDG_CACHE_HOME/stackfixtures/<kind>`, else ~/.cache."""
    base = os.environ.get("STACKFIXTURES_CACHE")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "stackfixtures"
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
