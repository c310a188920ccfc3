"""Restart on change: services whose profile says `watch = [...]` are restarted when one of
those files changes (gitignore-style patterns, relative to the project root, via pathspec),
after a short quiet period so that a burst of saves is one restart. File events come from
watchfiles; the restart is the engine's own (`Stack.restart`), so dependents follow their
edges. Runs in the launcher's event loop; watchfiles and pathspec load only when used."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .._engine.lifecycle import State
from .._engine.tasks import cancel_and_wait
from ..errors import ServiceError

if TYPE_CHECKING:
    from pathspec import PathSpec

    from .._define.graph import Graph
    from .._engine.stack import Stack

QUIET = 0.4
"""Seconds without a further change before a service is restarted: an editor's save, a
formatter run and a `git checkout` each become one restart."""

GLOB_CHARS = frozenset("*?[")
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".stack"}
    | {".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".idea"}
)
"""Directories never searched when checking that a pattern matches something."""


def _spec(patterns: Iterable[str]) -> PathSpec[Any]:
    from pathspec import PathSpec

    return PathSpec.from_lines("gitignore", patterns)


def base_dir(pattern: str) -> str:
    """The directory a pattern can only match under (`backend/**/*.py` -> `backend`); "" when
    it may match anywhere (a pattern with no slash matches at any depth, as in .gitignore)."""
    stripped = pattern.strip().lstrip("/")
    if "/" not in pattern.strip().rstrip("/"):
        return ""
    fixed: list[str] = []
    for part in PurePosixPath(stripped).parts[:-1]:
        if GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return "/".join(fixed)


@dataclass
class Watch:
    """One service's patterns, compiled."""

    service: str
    patterns: tuple[str, ...]
    ignore: tuple[str, ...]
    include: Any = field(init=False, repr=False)
    exclude: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.include = _spec(self.patterns)
        self.exclude = _spec(self.ignore)

    def matches(self, relative: str) -> bool:
        return bool(self.include.match_file(relative)) and not self.exclude.match_file(relative)

    def dirs(self, root: Path) -> set[Path]:
        """The existing directories to watch: each pattern's base, or its nearest parent."""
        found = set()
        for pattern in self.patterns:
            d = root / base_dir(pattern)
            while not d.is_dir() and d != root:
                d = d.parent
            found.add(d)
        return found


def watches(graph: Graph, names: Iterable[str]) -> list[Watch]:
    """The services among `names` that declare `watch` patterns."""
    return [
        Watch(n, tuple(graph[n].watch), tuple(graph[n].watch_ignore))
        for n in names
        if graph[n].watch
    ]


def unmatched(watch: Watch, root: Path, skip: Iterable[Path] = ()) -> list[str]:
    """The patterns of `watch` that match no file under `root` now (each a likely typo)."""
    skipped = {p.resolve() for p in skip}
    left = []
    for pattern in watch.patterns:
        one = Watch(watch.service, (pattern,), watch.ignore)
        start = root / base_dir(pattern)
        if not any(one.matches(rel) for rel in _files(root, start, skipped)):
            left.append(pattern)
    return left


def _files(root: Path, start: Path, skipped: set[Path]) -> Iterable[str]:
    """Paths relative to `root` of the files under `start`, skipping tool and state dirs."""
    for here, dirs, files in os.walk(start):
        dirs[:] = [
            d for d in dirs if d not in SKIP_DIRS and (Path(here) / d).resolve() not in skipped
        ]
        for f in files:
            yield Path(here, f).relative_to(root).as_posix()


Say = Callable[[str], None]


class Watcher:
    """Watches the files of `watches` and restarts their services through `stack`."""

    def __init__(
        self, stack: Stack, watches: list[Watch], root: Path, say: Say, skip: Iterable[Path] = ()
    ) -> None:
        self.stack = stack
        self.watches = watches
        self.root = root.resolve()
        self.say = say
        self.skip = [p.resolve() for p in skip]
        self.pending: dict[str, set[str]] = {w.service: set() for w in watches}
        self.wake = {w.service: asyncio.Event() for w in watches}

    def changed(self, paths: Iterable[str]) -> dict[str, list[str]]:
        """Which services these absolute paths concern, with the paths relative to the root."""
        out: dict[str, list[str]] = {}
        for raw in paths:
            path = Path(raw)
            if any(path == s or s in path.parents for s in self.skip):
                continue
            try:
                rel = path.relative_to(self.root).as_posix()
            except ValueError:
                continue
            for w in self.watches:
                if w.matches(rel):
                    out.setdefault(w.service, []).append(rel)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: notice changes, restart what they concern."""
        from watchfiles import DefaultFilter, awatch

        dirs = sorted({str(d) for w in self.watches for d in w.dirs(self.root)})
        quiet = DefaultFilter(ignore_paths=[str(p) for p in self.skip])  # the state dir's logs
        restarters = [asyncio.ensure_future(self._restarter(w.service)) for w in self.watches]
        try:
            async for changes in awatch(
                *dirs, watch_filter=quiet, stop_event=stop, debounce=200, step=50
            ):
                for service, files in self.changed(p for _, p in changes).items():
                    self.pending[service].update(files)
                    self.wake[service].set()
        finally:
            await cancel_and_wait(*restarters)

    async def _restarter(self, service: str) -> None:
        """Restarts `service` once its files have been quiet for QUIET seconds. Changes that
        arrive during a restart are kept and cause one more restart after it."""
        wake = self.wake[service]
        while True:
            await wake.wait()
            while True:  # quiet period: a burst of saves is one restart
                wake.clear()
                try:
                    async with asyncio.timeout(QUIET):
                        await wake.wait()
                except TimeoutError:
                    break
            files, self.pending[service] = sorted(self.pending[service]), set()
            if not files:
                continue
            if self.stack.state(service) in (State.STOPPED, State.PENDING):
                continue  # stopped by hand (or never started): a save does not resurrect it
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            try:
                await self.stack.restart(service, reason=f"restarting (changed: {shown})")
            except ServiceError as e:  # its FAILED event says why; the next save tries again
                self.say(f"{service} did not come back after the change: {e.reason}")


def watcher_for(
    stack: Stack, closure: list[str], root: Path, skip: list[Path], say: Callable[[str], None]
) -> tuple[Watcher | None, dict[str, Any]]:
    """The watcher of the services in `closure` that declare `watch`, and what status shows of
    it. A pattern that matches no file is said at once, since it is most likely a typo."""
    found = watches(stack.graph, closure)
    if not found:
        return None, {}
    warnings = [
        f"{w.service}: watch pattern {p!r} matches no file under {root}"
        for w in found
        for p in unmatched(w, root, skip)
    ]
    for text in warnings:
        say(f"warning: {text}")
    say("watching: " + "; ".join(f"{w.service} ({', '.join(w.patterns)})" for w in found))
    shown = {"watching": {w.service: list(w.patterns) for w in found}, "warnings": warnings}
    return Watcher(stack, found, root, say, skip), shown
