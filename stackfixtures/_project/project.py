"""A project: its root, its profile (validated, or compiled: compiled.py), its checked graph
of services and where its stack keeps its state (what `load` gives)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._define.bus import BusTarget
from .._define.graph import Graph
from ..errors import DefinitionError, NothingToRun
from .compiled import CachedProfile

if TYPE_CHECKING:
    from .._config.load import Profile


@dataclass
class Project:
    root: Path
    profile: Profile | CachedProfile | None  # (CachedProfile: a compiled profile's start)
    graph: Graph
    selected: list[str]
    state_dir: Path
    parallelism: int
    mode: str | None = None
    events: BusTarget | None = None  # `[stack] events`: where its events are published
    aside: dict[str, str] = field(default_factory=dict)  # services that cannot run, and why

    def check_runnable(self, names: list[str]) -> None:
        """Raise the reason of the first of `names` that was set aside (see `load`)."""
        for name in names:
            if name in self.aside:
                raise DefinitionError(f"service {name!r} cannot run: {self.aside[name]}")

    def check_not_empty(self) -> None:
        """Raise NothingToRun when there is no service to run (a command needs one; a pytest
        session with none is fine)."""
        if not self.graph.names:
            from . import checks

            raise NothingToRun(checks.nothing_to_run(self.root, self.full_profile))

    @property
    def full_profile(self) -> Profile | None:
        """The validated profile, for what reads more of it than a start does (a compiled
        profile's start validates it now: its files are those its key was made of)."""
        if not isinstance(self.profile, CachedProfile):
            return self.profile
        from .._config import load as profiles

        return profiles.validate_profile(self.profile.path, self.root, strict=False)

    @property
    def label(self) -> str:
        return self.profile.name if self.profile else "default"
