"""Which stack a command means, found without importing the project's code: `--state-dir`,
else `-p PROFILE` (or STACK_PROFILE), else the profile _config/choose.py finds (pytest's
`stack_profile`, the only profile) when its stack runs or none does, else the one stack running
under the project's `.stack/`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .endpoint import Endpoint, find

if TYPE_CHECKING:
    from ..errors import NotRunning


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
    """The state dir the command is about. Without a profile or a state dir: the chosen
    profile's (_config/choose.py) when its stack runs or none runs, else the one running stack
    of the project (NotRunning if none; AmbiguousStack, listing them, if several)."""
    from .._config.choose import choose
    from .._config.locate import find_root, state_dir_of  # (TOML reading only when needed)

    if state_dir:
        return Path(state_dir).resolve()
    root = root or find_root()
    choice = choose(root, profile)
    if choice is not None and choice.explicit:
        return state_dir_of(choice.profile, root)
    stacks = running(root)
    if choice is not None:  # pytest's stack_profile, the only profile: unless another runs
        implied = state_dir_of(choice.profile, root)
        if not stacks or any(Path(ep.state_dir).resolve() == implied.resolve() for ep in stacks):
            return implied
    if len(stacks) == 1:
        return Path(stacks[0].state_dir)
    if not stacks:
        raise none_running(root)
    from ..errors import AmbiguousStack  # (errors.py: only when there is one to raise)

    listing = "\n".join(
        f"  profile {ep.profile}: --state-dir {ep.state_dir}  (launcher pid {ep.pid})"
        for ep in stacks
    )
    raise AmbiguousStack(
        f"{len(stacks)} stacks are running; choose one with -p PROFILE or --state-dir:\n{listing}",
        [ep.state_dir for ep in stacks],
    )


def none_running(root: Path) -> NotRunning:
    """What a command for a running stack says when none runs in the project at `root`."""
    from ..errors import NotRunning

    return NotRunning(f"no stack is running under {root / '.stack'} (start one with `stack up`)")


def running_profile(root: Path) -> tuple[str | None, Path] | None:
    """The only stack running under the project's `.stack/`: its profile (None for a stack
    of conftest.py's services alone) and its state dir; None unless exactly one runs and its
    profile is one of profiles/."""
    from .._config.choose import profile_names

    stacks = running(root)
    if len(stacks) != 1:
        return None
    label, where = stacks[0].profile, Path(stacks[0].state_dir)
    if label in profile_names(root):
        return label, where
    return (None, where) if label == "default" else None


def last_run(profile: str | None, state_dir: str | None, root: Path | None = None) -> Path | None:
    """The state dir a command about a stopped stack reads (`logs`, `events`, `report`, as
    `compose logs` does): the one `state_dir_for` finds, else the project's most recently run
    (by its events and logs); None when none has run."""
    from .._config.locate import find_root
    from ..errors import NotRunning

    try:
        return state_dir_for(profile, state_dir, root)
    except NotRunning:
        pass
    base = (root or find_root()) / ".stack"
    ran = []
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        marks = [f for f in (d / "events.jsonl", d / "logs") if f.exists()]
        if marks and not d.is_symlink():
            ran.append((max(f.stat().st_mtime for f in marks), d))
    return max(ran)[1] if ran else None
