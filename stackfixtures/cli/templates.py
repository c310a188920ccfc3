"""What a refresh of a running stack did to its per-test templates, in words: `stack up` (and
`stack exec`) say which template was rebuilt and why."""

from __future__ import annotations

import contextlib
from typing import Any

from ..project.templates import KIND


def rebuilt(control: Any, status: dict[str, Any], restarted: list[str]) -> list[str]:
    """One line per template builder among `restarted`: rebuilt (and why) or kept."""
    kinds = {s["name"]: s.get("kind") for s in status.get("services", [])}
    lines = []
    for name in restarted:
        if kinds.get(name) != KIND:
            continue
        handle = None
        with contextlib.suppress(Exception):  # (not up: its own state says why, in the table)
            handle = control.handle(name)
        if handle is None:
            lines.append(f"template of {name.removesuffix('-template')}: not rebuilt ({name})")
        elif getattr(handle, "rebuilt", False):
            lines.append(
                f"template {handle.template} of {handle.server} rebuilt: {handle.reason} "
                f"(now {handle.template_id})"
            )
    return lines
