"""`[stack] include = ["compose.yaml"]`: a compose file's services as the base of the profile
that includes it (the profile's own keys refine them, as over a profile it `extends`), each key
located in the compose file, and what it cannot honour reported with the profile's problems."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem, ProfileError
from .positions import SourceMap

if TYPE_CHECKING:
    from .._compose import document as compose


def includes(raw: dict[str, Any]) -> list[str]:
    """The compose files a profile's TOML names (what is not a list of strings is left to the
    schema to report)."""
    stack = raw.get("stack")
    found = stack.get("include") if isinstance(stack, dict) else None
    if not isinstance(found, list):
        return []
    return [f for f in found if isinstance(f, str) and f.strip()]


def compose_file(
    path: Path, profile_dir: Path | None, read_bytes: Callable[[Path], bytes]
) -> compose.Compose:
    """Compose file `path` mapped for a profile in `profile_dir` (None: host paths absolute;
    its problems in `.problems`); ProfileError when it cannot be read at all."""
    if not path.exists():
        raise ProfileError(str(path), "", "no such file")
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(str(path), "", "not UTF-8 text") from None
    from .._compose import document  # (PyYAML: only for a profile that includes one)

    return document.read(path, text, profile_dir, os.environ)


def included(
    smap: SourceMap, index: int, name: str, read_bytes: Callable[[Path], bytes]
) -> tuple[dict[str, Any], SourceMap | None, list[Problem]]:
    """The profile TOML (`{"services": ...}`) compose file `name` gives the profile `smap` is
    the map of (its `include[index]`), where its keys are, and its problems."""
    profile = Path(smap.file)
    try:
        found = compose_file((profile.parent / name).resolve(), None, read_bytes)
    except ProfileError as e:
        line, column = smap.find(("stack", "include", index)) or (0, 0)
        return {}, None, [Problem(smap.file, "stack.include", f"{name}: {e.problem}", line, column)]
    starts = [0] + [i + 1 for i, c in enumerate(found.text) if c == "\n"]
    located = SourceMap(found.file, dict(found.offsets), starts)
    return {"services": found.services}, located, found.problems
