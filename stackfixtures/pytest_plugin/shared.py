"""Where a pytest session's services run, and which control answers for each.

LocalBackend: a stack in this process's own thread and event loop (plain `pytest`).
SharedBackend: session-scoped services in one launcher process shared by every xdist worker
(started by the first worker that needs it, under a file lock) or kept between runs
(--stack-reuse), or a stack already running for the session's profile (`stack exec`'s, `stack
up`'s: see attach.py), used as it is; narrower-scoped services
still run locally, their session-scoped dependencies attached from the shared launcher.
Both hand out StackControls (_control/protocol.py); no verb is implemented here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from .. import _launcher as launcher
from .. import _project as projects
from .._control.local import LocalControl
from .._control.protocol import StackControl
from .._control.remote import RemoteControl, TransportError, connect
from .._define.graph import Graph
from .._define.service import Scope, ServiceDefinition
from .._engine import state_dirs
from .._engine.runner import EngineThread
from .._launcher import detached
from ..errors import ControlError, NotRunning, StackError, StartError


class LocalBackend:
    """Every service in a stack thread of this process."""

    shared_state_dir: Path | None = None

    def __init__(
        self, proj: projects.Project, state_dir: Path, mode: str | None, graph: Graph | None = None
    ) -> None:
        self.runner = EngineThread(
            graph or proj.graph,
            state_dir=state_dir,
            root=proj.root,
            parallelism=proj.parallelism,
            mode=mode,
            bus=proj.events if graph is None else None,  # (a part of the stack: not its events)
        )
        # A service that failed stays failed for the session: the next test that needs it gets
        # the same error at once instead of waiting through another start.
        self.local = LocalControl(self.runner.stack, self.runner.loop, retry_failed=False)

    def control_for(self, name: str) -> StackControl:
        return self.local

    def controls(self) -> list[StackControl]:
        return [self.local]

    def start(self, name: str) -> Any:
        return self.local.start([name])[name]

    def end_scope(self, name: str) -> None:
        """The end of the fixture scope of `name`."""
        if not self.runner.closed:
            self.local.stop([name])

    def output_of(self, name: str) -> StackControl | None:
        """The control that holds `name`'s output, if it runs (never starts anything)."""
        return self.local

    def check(self, name: str, action: str) -> None:
        """Whether a test may disturb `name` (it may: the stack is this process's own)."""

    def stack_ids(self) -> set[str]:
        return set() if self.runner.closed else {self.runner.stack.stack_id}

    @property
    def state_dir(self) -> Path:
        return self.runner.stack.state_dir

    def close(self) -> None:
        self.runner.close()


def shared_dir(config: Any, proj: projects.Project, mode: str | None, reuse: bool) -> Path:
    """Reused across runs: under the project's .stack; shared by xdist workers: in the
    basetemp directory the controller and every worker share."""
    suffix = f"-{mode}" if mode else ""
    if reuse:
        return proj.root / ".stack" / f"pytest-{proj.label}{suffix}"
    base = Path(config._tmp_path_factory.getbasetemp())
    if hasattr(config, "workerinput"):
        base = base.parent
    return base / f"stack-shared{suffix}"


class SharedBackend:
    """Session-scoped services in a shared launcher; the rest locally (see the module doc)."""

    def __init__(
        self,
        proj: projects.Project,
        local_dir: Path,
        shared: Path,
        mode: str | None,
        owner: int | None,
        reuse: bool,
        attached: bool = False,
    ) -> None:
        self.project = proj
        self.mode = mode
        self.shared_state_dir = shared
        self.owner = owner
        self.reuse = reuse
        self.attached = attached  # a running stack (attach.py): used as it is, never started
        self._remote: RemoteControl | None = None
        self.reused: bool | None = None  # whether we attached to a stack from an earlier run
        local = {
            n: d if d.scope < Scope.SESSION else self._attached(d)
            for n, d in proj.graph.definitions.items()
        }
        self.local = LocalBackend(proj, local_dir, mode, Graph(local))

    def _session(self, name: str) -> bool:
        return name in self.project.graph and self.project.graph[name].scope == Scope.SESSION

    def _attached(self, d: ServiceDefinition) -> ServiceDefinition:
        backend = self

        async def attached() -> AsyncIterator[Any]:
            yield await asyncio.to_thread(backend.start, d.name)

        return ServiceDefinition(
            name=d.name,
            function=attached,
            params=(),
            scope=Scope.SESSION,
            kind="attached",
            source="shared launcher",
        )

    def remote(self) -> RemoteControl:
        """The shared launcher's control: found, or started by the first worker that asks."""
        if self._remote is None and self.attached:  # someone else's: nothing made in its dir
            try:
                self._remote = connect(self.shared_state_dir, patient=True)
            except NotRunning:
                raise StartError(
                    "<running stack>",
                    "stopped",
                    f"the stack this session uses (state dir {self.shared_state_dir}) is gone; "
                    "start it again (`stack up`), or run pytest without it",
                ) from None
            self.reused = True
        if self._remote is None:
            proj = self.project
            state_dirs.make(self.shared_state_dir, "pytest (shared stack)", proj.label, proj.root)
            with FileLock(str(self.shared_state_dir / "launch.lock"), timeout=300, mode=0o600):
                try:
                    self._remote = connect(self.shared_state_dir, patient=True)
                    self.reused = True if self.reused is None else self.reused
                except NotRunning:
                    self._launch()
                    self._remote = connect(self.shared_state_dir, patient=True)
                    self.reused = False
                if self.reused:
                    self._refresh()
        return self._remote

    def _launch(self) -> None:
        log = self.shared_state_dir / "launcher.log"
        opts = launcher.Options(
            profile=str(self.project.profile.path) if self.project.profile else None,
            state_dir=str(self.shared_state_dir),
            mode=self.mode,
            on_demand=True,
            exit_with=None if self.reuse else self.owner,
        )
        try:
            detached.start_detached(opts, self.project.root, log, 60, until=None)[1].close()
        except detached.LauncherExited as e:
            raise StartError("<shared launcher>", "starting", str(e), e.tail) from None
        except TimeoutError as e:  # the launcher was stopped
            raise StartError("<shared launcher>", "starting", str(e)) from None

    def _refresh(self) -> None:
        """Reusing a stack from an earlier run: restart the services whose definition changed."""
        assert self._remote is not None
        theirs = self._remote.status()["stack"].get("fingerprints", {})
        ours = projects.fingerprints(self.project.graph, self.project.root)
        if any(ours.get(name) != print_ for name, print_ in theirs.items()):
            self._remote.reload()  # the launcher restarts what changed

    def control_for(self, name: str) -> StackControl:
        return self.remote() if self._session(name) else self.local.local

    def controls(self) -> list[StackControl]:
        return [self.local.local, *([self._remote] if self._remote is not None else [])]

    def output_of(self, name: str) -> StackControl | None:
        """The control that holds `name`'s output, if it runs (never starts a launcher)."""
        return self._remote if self._session(name) else self.local.local

    def start(self, name: str) -> Any:
        if not self._session(name):
            return self.local.start(name)
        try:
            return self.remote().start([name])[name]
        except ControlError as e:
            raise StartError(name, "failed", str(e)) from None
        except TransportError as e:  # the shared launcher is gone: find or start one again
            self._remote = None
            raise StartError(name, "failed", f"the shared launcher did not answer: {e}") from None

    def end_scope(self, name: str) -> None:
        """The end of the fixture scope of `name`: shared services outlive any one worker."""
        if not self._session(name):
            self.local.end_scope(name)

    def check(self, name: str, action: str) -> None:
        """Refuse to disturb a service other xdist workers' tests are using."""
        if self._session(name) and self.owner is not None and action != "resume":
            raise StackError(
                f"{name!r} is shared by all pytest-xdist workers: {action} would disturb tests "
                "running on other workers. Use the `private_stack` fixture for a test that "
                "breaks services on purpose."
            )

    def stack_ids(self) -> set[str]:
        ids = self.local.stack_ids()
        if self._remote is not None:
            ids.add(self._remote.endpoint.stack_id)
        return ids

    @property
    def state_dir(self) -> Path:
        return self.shared_state_dir

    def close(self) -> None:
        self.local.close()
        if self._remote is not None:
            self._remote.close()
            self._remote = None


Backend = LocalBackend | SharedBackend


def stop_shared(state_dir: Path, timeout: float = 120.0) -> bool:
    """Stop the shared launcher of `state_dir`, if one runs; True when there was one."""
    try:
        control = connect(state_dir)
    except NotRunning:
        return False
    with control, contextlib.suppress(Exception):
        control.down(timeout)
    return True
