"""Which image runs a data kind in a container (`stack export`): the one its profile names
(`image`, `tag`), else the official image at the version of the server the stack runs here,
asked of that server (`--version`), so an export runs what the tests ran."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import KindUnavailable

VERSION_TIMEOUT = 10.0
"""How long a server may take to print its version (a few ms normally)."""

LOCAL_SOURCES = ("auto", "system", "wheel")
"""A data kind's `source`s that run a server here (any other: "auto" is asked its version)."""
_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


@cache
def version_of(binary: Path, pattern: str = _VERSION.pattern) -> str | None:
    """The version `BINARY --version` prints (the first match of `pattern`), None when it
    cannot say (not runnable, no version in its output, too slow)."""
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else None


def leading(version: str, parts: int) -> str:
    """`15` from `15.18` (parts=1), `8.1` from `8.1.8` (parts=2)."""
    return ".".join(version.split(".")[:parts])


def image_for(
    config: Mapping[str, Any],
    official: str,
    local_tag: Callable[[], str | None],
    fallback: str,
) -> str:
    """`config`'s `image` (with its `tag`, else the local server's), else `official` at the
    local server's tag (`local_tag()`: None when there is no local server), else at
    `fallback`."""
    image = str(config.get("image") or official)
    if ":" in image.rsplit("/", 1)[-1]:
        return image
    tag = config.get("tag")
    if not tag:
        try:
            tag = local_tag()
        except KindUnavailable:
            tag = None
    return f"{image}:{tag or fallback}"
