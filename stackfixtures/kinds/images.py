"""Which image runs a data kind in a container -- the one rule both paths use: a data kind's
`source = "container"` when it runs (from_image.py) and `stack export compose/k8s` when it
writes one (the kinds' `container=` hooks). The image the profile names (`image`, `tag`), else
the official one at the version of the server the local source runs here, asked of that server
(`--version`), so a container runs what the tests ran; else the kind's fallback tag (no local
server to match)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import KindUnavailable
from .binaries import version_said

LOCAL_SOURCES = ("auto", "system", "wheel")
"""A data kind's `source`s that run a server here."""


def local_source(source: str) -> str:
    """Where to find the local server whose version an image matches: the profile's `source`
    when it runs one here, else ("container") wherever the local source would look."""
    return source if source in LOCAL_SOURCES else "auto"


def tagged(image: str) -> bool:
    """Whether `image` names its tag (or digest) itself: `pg:15`, `reg:5000/pg@sha256:...`."""
    return "@" in image or ":" in image.rsplit("/", 1)[-1]


def version_tag(binary: Path, pattern: str, parts: int) -> str | None:
    """The version `binary --version` prints (the first group of `pattern`) to `parts` numbers
    -- `15` from 15.18 (parts=1), `8.1` from 8.1.8 (parts=2) -- the tag of the image that
    runs the same server; None when it says none."""
    found = re.search(pattern, version_said(binary))
    return ".".join(found.group(1).split(".")[:parts]) if found else None


def image_for(
    official: str,
    local_tag: Callable[[], str | None],
    fallback: str,
    *,
    image: str | None = None,
    tag: str | None = None,
) -> str:
    """`image:tag`: `image` (else `official`) with its own tag, else `tag`, else the local
    server's (`local_tag()`: None, or KindUnavailable, when there is none), else `fallback`.
    Blocking (it may ask a server its version): async code calls it in a thread."""
    name = image or official
    if tagged(name):
        return name
    if not tag:
        try:
            tag = local_tag()
        except KindUnavailable:
            tag = None
    return f"{name}:{tag or fallback}"
