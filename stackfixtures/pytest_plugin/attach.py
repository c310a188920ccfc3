"""The running stack a pytest session uses instead of starting its own: the one `stack exec`
runs the session under, else the one already running for the session's project and profile
(`stack up`, `stack run`, or any tool that started it). A second stack of the same profile
would clash with it on pinned ports; the session uses its services, leaves it running, and
says in its header which stack it uses and how that stack's configuration differs from its
own. It changes nothing in that stack (someone else's) but its per-test templates: when only
they and tasks changed (an edited schema file or migration), the session's first process
reruns those tasks and rebuilds the templates, as `stack exec` does, so the tests get
databases of the new schema; a changed long-running service is only reported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import _project as projects
from .._control import endpoint
from .._control.environment import ATTACH_ENV
from .._control.remote import RemoteControl, TransportError, connect
from .._control.templates import refresh_for
from .._define.service import Scope
from ..errors import ControlError, ProtocolMismatch, StackError


@dataclass(frozen=True)
class Running:
    """A stack this session may use (see the module doc)."""

    state_dir: Path
    mode: str | None
    pid: int
    by_exec: bool  # the one `stack exec` runs this session under
    changed: list[str] = field(default_factory=list)  # session services defined otherwise
    missing: list[str] = field(default_factory=list)  # session services it does not have
    rebuilt: list[str] = field(default_factory=list)  # templates this session rebuilt, in words

    def header(self, profile: str, mode: str | None) -> list[str]:
        """What the pytest header says about it, for a session of `profile` in `mode`."""
        if self.mode != mode:
            hint = f" (--stack-mode {self.mode})" if self.mode else ""
            return [
                f"stackfixtures: a stack of this profile runs in {self.state_dir} (launcher pid "
                f"{self.pid}) in another mode ({self.mode or 'default'}) than this session's "
                f"({mode or 'default'}): the session starts its own, whose pinned ports clash "
                f"with it; run pytest in the stack's mode{hint}, or stop that stack "
                f"(`stack down -p {profile}`)"
            ]
        whose = "`stack exec` runs" if self.by_exec else "already running in"
        lines = [
            f"stackfixtures: using the stack {whose} {self.state_dir} (launcher pid "
            f"{self.pid}); it stays running after the tests"
        ]
        lines += [f"stackfixtures: {line}" for line in self.rebuilt]
        if self.changed or self.missing:
            what = "; ".join(
                f"{label}: {', '.join(names)}"
                for label, names in (("changed", self.changed), ("not in it", self.missing))
                if names
            )
            lines.append(
                f"stackfixtures: the running stack's configuration differs from this session's "
                f"({what}): run `stack up -p {profile}` to restart what changed, or "
                f"`stack down -p {profile}` to let pytest start its own"
            )
        return lines


def running_stack(proj: projects.Project, refresh: bool = True) -> Running | None:
    """The stack this session uses, or None: it runs its own. Under `stack exec`, exec's
    (when it is this project's and profile's); else the one running in the profile's state
    dir. With `refresh` (the session's first process, not an xdist worker), its templates are
    rebuilt when only they changed."""
    value = os.environ.get(ATTACH_ENV)
    places = [(Path(value), True)] if value else []
    places.append((proj.state_dir, False))
    for state_dir, by_exec in places:
        found = endpoint.read(state_dir)
        if found is None or found.profile != proj.label or not _same(found.root, proj.root):
            continue
        try:
            with connect(Path(found.state_dir), patient=True) as control:
                rebuilt = _rebuild(control, proj) if refresh else []
                stack = control.status()["stack"]
        except ProtocolMismatch:
            raise  # another version's launcher: the session must not start its own beside it
        except (ControlError, *TransportError):  # gone, going, or stopped: not usable
            continue
        changed, missing = _differences(proj, stack.get("fingerprints") or {})
        return Running(
            Path(found.state_dir), stack.get("mode"), found.pid, by_exec, changed, missing, rebuilt
        )
    return None


def _rebuild(control: RemoteControl, proj: projects.Project) -> list[str]:
    """What rebuilding the stack's templates did, in words; a rebuild that failed (an edited
    migration's SQL error, say) is said too: the stack is still the one to use (a second
    would clash with it), and the tests that need the template get the builder's error."""
    try:
        return refresh_for(control, proj, only=True)
    except StackError as e:  # (one line: the builder's log says the rest)
        return [f"the template rebuild failed: {str(e).splitlines()[0]}"]


def profile_option(proj: projects.Project) -> str:
    """What `-p` takes for the session's profile: its name, when profiles/ holds it, else its
    path (relative to the project when inside it)."""
    path = proj.profile.path if proj.profile else None
    if path is None or path.parent.resolve() == (proj.root / "profiles").resolve():
        return proj.label
    try:
        return str(path.resolve().relative_to(proj.root.resolve()))
    except ValueError:
        return str(path)


def _same(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _differences(proj: projects.Project, theirs: dict[str, str]) -> tuple[list[str], list[str]]:
    """The session-scoped services (those the running stack would serve) whose definition
    differs from the running stack's, and those it does not have."""
    ours = projects.fingerprints(proj.graph, proj.root)
    shared = [n for n, d in proj.graph.definitions.items() if d.scope == Scope.SESSION]
    changed = sorted(n for n in shared if n in theirs and theirs[n] != ours[n])
    missing = sorted(n for n in shared if n not in theirs)
    return changed, missing
