"""Per-test templates of a running stack, for `stack up` and `stack exec`: rebuilt when their
identity changed, and said so (which template, and why)."""

from __future__ import annotations

import contextlib
from pathlib import Path
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


def refresh(control: Any, profile: str | None, state_dir: str | None) -> list[str]:
    """`stack exec` on a running stack: when a template's identity changed since it started
    (an edited schema file or migration, say), pick up the edited definitions as `stack up`
    does, so that the command's tests get databases of the new template; what was rebuilt,
    in words. A running stack without templates is used as it is (nothing is loaded)."""
    from .. import project as projects
    from ..errors import DefinitionError

    status: dict[str, Any] = control.status()
    builders = [s["name"] for s in status.get("services", []) if s.get("kind") == KIND]
    if not builders:
        return []
    try:
        proj = projects.load(profile, state_dir=Path(state_dir).resolve() if state_dir else None)
    except DefinitionError as e:  # (the stack runs on as it is; `stack validate` says more)
        return [f"templates not checked: {str(e).splitlines()[0]}"]
    theirs = status["stack"].get("fingerprints", {})
    ours = projects.fingerprints(proj.graph, proj.root)
    if any(b not in ours for b in builders):  # (not the profile it runs: it cannot tell)
        return []
    if all(theirs.get(b) == ours.get(b) for b in builders):
        return []
    changed = control.reload()
    return rebuilt(control, control.status(), changed["restarted"])
