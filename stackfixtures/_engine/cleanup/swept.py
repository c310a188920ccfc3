"""What a sweep did, for people: the processes of dead stacks it stopped, the containers,
networks and volumes it removed from their engines, and the stacks whose record it kept
because an engine of theirs did not answer (what is there is for the next sweep)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def whose(stack_id: str, root: str, state_dir: str, here: Path | None = None) -> str:
    """Whose it was: the project (when it is not `here`, the one the command runs for) and
    the state dir, or "of unknown project" (registered by an older version)."""
    where = f" (state dir {state_dir})" if state_dir else ""
    if root and (here is None or root != str(here)):
        return f"a crashed stack of project {root}{where}"
    if root:
        return f"crashed stack {stack_id}{where}"
    return f"crashed stack {stack_id} of unknown project{where}"


@dataclass(frozen=True)
class Leftover:
    stack_id: str
    service: str
    pid: int
    command: str
    root: str = ""  # the project it belongs to ("" when unknown)
    state_dir: str = ""

    def whose(self, root: Path | None = None) -> str:
        """Whose it was, for people (`whose`)."""
        return whose(self.stack_id, self.root, self.state_dir, root)


@dataclass(frozen=True)
class OnEngines:
    """One dead stack's containers, networks and volumes: those removed, and the engines that
    did not answer (URL -> why)."""

    stack_id: str
    root: str
    state_dir: str
    removed: tuple[str, ...] = ()
    unanswered: tuple[tuple[str, str], ...] = ()


@dataclass
class Swept:
    stopped: list[Leftover] = field(default_factory=list)
    engines: list[OnEngines] = field(default_factory=list)

    def lines(self, here: Path | None = None) -> list[str]:
        """A line per dead stack and what went (or stayed), for people."""
        said = []
        for stack_id in sorted({s.stack_id for s in self.stopped}):
            mine = [s for s in self.stopped if s.stack_id == stack_id]
            said.append(
                f"stopped {len(mine)} leftover process(es) of {mine[0].whose(here)}: "
                + "; ".join(f"{s.service} pid {s.pid}" for s in mine)
            )
        for on in self.engines:
            of = whose(on.stack_id, on.root, on.state_dir, here)
            if on.removed:
                said.append(
                    f"removed {len(on.removed)} leftover(s) of {of}: " + "; ".join(on.removed)
                )
            for url, why in on.unanswered:
                said.append(
                    f"kept the record of {of}: engine {url} did not answer ({why}); what it "
                    "holds of that stack is removed by the next sweep (any `stack` command, "
                    "once the engine runs again)"
                )
        return said
