"""Where things are, from paths and profile text alone (no user code is imported): the
project root, and the state dir a profile's stack uses."""

from __future__ import annotations

from pathlib import Path


def find_root(start: Path | None = None) -> Path:
    """The nearest directory from `start` upward holding pyproject.toml or profiles/."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() or (d / "profiles").is_dir():
            return d
    return here


def default_state_dir(root: Path, label: str, configured: str | None = None) -> Path:
    """`[stack] state_dir` when the profile sets one (relative to the root), else
    `.stack/LABEL` under the root."""
    return root / configured if configured else root / ".stack" / label


def state_dir_of(profile: str | Path, root: Path) -> Path:
    """The state dir of `profile`'s stack, read from its TOML (and what it extends) only."""
    from .read import raw_profile, resolve_path  # the TOML reader, only when a profile is named

    path = resolve_path(profile, root).resolve()
    stack = raw_profile(path, root).get("stack", {})
    configured = stack.get("state_dir") if isinstance(stack, dict) else None
    return default_state_dir(root, path.stem, configured if isinstance(configured, str) else None)
