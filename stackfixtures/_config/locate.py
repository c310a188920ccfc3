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
    """The state dir of `profile`'s stack, read from its TOML (and what it extends) only: the
    compose files it includes hold services, never `[stack]` (and need PyYAML)."""
    from .profile_path import resolve_path

    path = resolve_path(profile, root).resolve()
    stack = _own_stack(path)
    if stack is None:
        from .read import raw_profile  # the full reader: what it extends, each mistake located

        stack = raw_profile(path, root, with_includes=False).get("stack", {})
    configured = stack.get("state_dir") if isinstance(stack, dict) else None
    return default_state_dir(root, path.stem, configured if isinstance(configured, str) else None)


def _own_stack(path: Path) -> object:
    """The `[stack]` value of the profile at `path` (`{}` without one), when this file alone
    says it: a regular file of at most MAX_BYTES that extends no other profile. None
    otherwise: the full reader (_config/read.py) then follows `extends`, or says what is wrong
    where it is. A text in which no key can spell `state_dir` or `extends` (not even with a
    `\\u` escape) sets no state dir: it is not parsed (tomllib's import and parse cost an
    operating command a tenth of its start-up), so a TOML mistake elsewhere in it is reported
    by the commands that load the profile (up, run, validate), not by those that only look
    for its stack (status, env, logs, down)."""
    import stat

    from .profile_path import MAX_BYTES, read_bounded

    try:
        data, info = read_bounded(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or len(data) > MAX_BYTES:
        return None
    if not any(word in data for word in (b"state_dir", b"extends", b"\\u", b"\\U")):
        return {}
    import tomllib

    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # (UnicodeError, TOMLDecodeError: ValueError)
        return None
    stack = raw.get("stack", {})
    if isinstance(stack, dict) and "extends" in stack:
        return None
    return stack
