"""Per-test templates of a running stack, for `stack up`, `stack exec` and a pytest session
beside a running stack: rebuilt when their identity changed, and said so (which template, and
why)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

KIND = "postgres_template"
"""The kind of a template's builder (`_project/templates.py`'s KIND, written out: importing the
project's package for a name would load the profile machinery, and pydantic, on every `stack
exec` of a running stack; tests/test_imports_exec.py checks that the two agree)."""


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
    status: dict[str, Any] = control.status()
    if not _builders(status):
        return []
    from .. import _project as projects  # (only now: the profile is loaded)
    from ..errors import DefinitionError

    profile = profile or status["stack"].get("profile_path")  # (the one it runs, not conftest's)
    try:
        proj = projects.load(profile, state_dir=Path(state_dir).resolve() if state_dir else None)
    except DefinitionError as e:  # (the stack runs on as it is; `stack validate` says more)
        return [f"templates not checked: {str(e).splitlines()[0]}"]
    return refresh_for(control, proj, status)


def refresh_for(
    control: Any, proj: Any, status: dict[str, Any] | None = None, only: bool = False
) -> list[str]:
    """`refresh` for a project already loaded. With `only`, the stack is reloaded only when
    no long-running service would restart: every service whose definition changed is a
    template builder or a task and none depends on them (a pytest session beside someone
    else's stack reruns its changed migrations and rebuilds its templates, nothing more)."""
    from .. import _project as projects

    status = control.status() if status is None else status
    builders = _builders(status)
    theirs = status["stack"].get("fingerprints", {})
    ours = projects.fingerprints(proj.graph, proj.root)
    if not builders or any(b not in ours for b in builders):  # (not the profile it runs)
        return []
    if all(theirs.get(b) == ours.get(b) for b in builders):
        return []
    changed = [n for n in theirs if n in ours and theirs[n] != ours[n]]
    if only and _disturbs(proj.graph, changed, set(builders), set(theirs)):
        return []
    return rebuilt(control, control.status(), control.reload()["restarted"])


def _disturbs(graph: Any, changed: list[str], builders: set[str], running: set[str]) -> bool:
    """Whether reloading `changed` would restart a long-running service of the stack: one of
    them, or one that depends on them (a reload restarts dependents along their edges)."""
    hit = set(changed) | set(graph.dependents_closure(changed))
    return any(n in running and n not in builders and not graph.definitions[n].task for n in hit)


def _builders(status: dict[str, Any]) -> list[str]:
    return [s["name"] for s in status.get("services", []) if s.get("kind") == KIND]
