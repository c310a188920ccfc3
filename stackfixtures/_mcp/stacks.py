"""Which running stack a tool means: its `stack` argument (a profile's name, or a state dir's
path), else the one `stack mcp` was started for (`--profile`, `--state-dir`), else the one
_control/discover.py finds (the profile chosen, the only stack running); and every stack running
in the project, for `list_stacks`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._control.discover import last_run, running, state_dir_for
from .._control.endpoint import Endpoint, find
from .._control.remote import RemoteControl, connect
from ..errors import AmbiguousStack

ARGUMENT_HINT = "pass the tool's `stack` argument: a profile's name or a state dir (list_stacks)"


@dataclass(frozen=True)
class Stacks:
    """The project (`root`) and the stack `stack mcp` was started for, if it was named."""

    root: Path
    profile: str | None = None
    state_dir: str | None = None

    def _chosen(self, stack: str | None) -> tuple[str | None, str | None]:
        if stack is None:
            return self.profile, self.state_dir
        if "/" in stack:  # a path (a profile is named without one)
            return None, stack
        return stack, None

    def where(self, stack: str | None) -> Path:
        """The state dir of the running stack meant (NotRunning, AmbiguousStack: as the
        CLI words them, saying how a tool names one)."""
        try:
            return state_dir_for(*self._chosen(stack), self.root)
        except AmbiguousStack as e:
            raise AmbiguousStack(f"{e}\n({ARGUMENT_HINT})", e.state_dirs) from None

    def control(self, stack: str | None) -> RemoteControl:
        return connect(self.where(stack))

    def last_run(self, stack: str | None) -> Path | None:
        """The stack meant if it runs, else the one of the project that ran last (for the
        report of a stopped stack, as `stack report` reads it)."""
        return last_run(*self._chosen(stack), self.root)

    def running(self) -> list[Endpoint]:
        """The live stacks under the project's `.stack/`, and the one named by `--state-dir`
        if it lives elsewhere."""
        found = running(self.root)
        if self.state_dir is not None:
            ep, _ = find(Path(self.state_dir).resolve())
            if ep is not None and all(ep.state_dir != other.state_dir for other in found):
                found.append(ep)
        return found
