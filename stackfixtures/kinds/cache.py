"""Where kinds keep what is worth reusing across stacks (e.g. an initdb'd cluster).

The cache and each kind's part of it are private directories (0700, ours, checked on every
use): what is copied out of them becomes a service's data, and their locks and temporary
names must be where no one else can plant anything."""

from __future__ import annotations

import os
from pathlib import Path

from ..kind_api import private_dir


def cache_root() -> Path:
    """`$STACKFIXTURES_CACHE`, else `$XDG_CACHE_HOME/stackfixtures`, else ~/.cache/stackfixtures
    (`stack clean --cache` removes it)."""
    base = os.environ.get("STACKFIXTURES_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stackfixtures"


def cache_dir(kind: str) -> Path:
    """The cache of one kind, created on first use (UnsafePath if it, or the cache, is a
    symlink, another user's or writable by others)."""
    return private_dir(private_dir(cache_root()) / kind)
