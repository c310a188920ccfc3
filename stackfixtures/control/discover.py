"""Which running stack an operating command means, found without importing the project's
code: `--state-dir`, else `-p PROFILE` (or STACK_PROFILE), else the one stack running under
the project's `.stack/`."""

from __future__ import annotations

from pathlib import Path

from ..errors import AmbiguousStack, NotRunning
from .endpoint import Endpoint, find


def running(root: Path) -> list[Endpoint]:
    """The live stacks whose state dirs are under `root/.stack` (stale sockets are removed)."""
    found = []
    base = root / ".stack"
    if base.is_dir():
        for d in sorted(p for p in base.iterdir() if (p / "control.json").exists()):
            ep, _ = find(d)
            if ep is not None:
                found.append(ep)
    return found


def state_dir_for(profile: str | None, state_dir: str | None, root: Path | None = None) -> Path:
    """The state dir the command is about. Without a profile or a state dir: the one running
    stack of the project (NotRunning if none; AmbiguousStack, listing them, if several)."""
    from ..config.locate import find_root, state_dir_of  # (TOML reading only when needed)

    if state_dir:
        return Path(state_dir).resolve()
    root = root or find_root()
    if profile:
        return state_dir_of(profile, root)
    stacks = running(root)
    if len(stacks) == 1:
        return Path(stacks[0].state_dir)
    if not stacks:
        raise NotRunning(f"no stack is running under {root / '.stack'} (start one with `stack up`)")
    listing = "\n".join(
        f"  profile {ep.profile}: --state-dir {ep.state_dir}  (launcher pid {ep.pid})"
        for ep in stacks
    )
    raise AmbiguousStack(
        f"{len(stacks)} stacks are running; choose one with -p PROFILE or --state-dir:\n{listing}",
        [ep.state_dir for ep in stacks],
    )
