"""Where a pytest session's services run.

LocalBackend: a stack in this process's own thread and event loop (plain `pytest`).
SharedBackend: session-scoped services in one launcher process shared by every xdist worker
(started by the first worker that needs it, under a file lock) or kept between runs
(--stack-reuse); narrower-scoped services still run locally, their session-scoped
dependencies attached from the shared launcher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from filelock import FileLock

from .. import project as projects
from ..control import detached, endpoint
from ..control.client import ControlClient, ControlError
from ..define.graph import Graph
from ..define.service import Handle, Scope, ServiceDefinition
from ..engine.events import Event
from ..engine.lifecycle import State
from ..engine.runner import StackThread
from ..engine.stack import ServiceStop
from ..errors import StackError, StartError


class LocalBackend:
    """Every service in a stack thread of this process."""

    shared_state_dir: Path | None = None

    def __init__(
        self, proj: projects.Project, state_dir: Path, mode: str | None, graph: Graph | None = None
    ) -> None:
        self.runner = StackThread(
            graph or proj.graph,
            state_dir=state_dir,
            root=proj.root,
            parallelism=proj.parallelism,
            mode=mode,
        )

    def start(self, name: str) -> Any:
        return self.runner.start([name])[name]

    def stop(self, name: str) -> None:
        """The end of the fixture scope of `name`."""
        if not self.runner.closed:
            self.runner.stop([name])

    def stop_now(self, names: list[str]) -> list[ServiceStop]:
        """A test asked for these to stop (dependents first)."""
        return self.runner.stop(names or None)

    def state(self, name: str) -> State:
        return self.runner.state(name)

    def log_marks(self) -> dict[str, int]:
        return {n: u.log.mark for n, u in self.runner.stack.units.items()}

    def logs_since(self, name: str, mark: int) -> list[str]:
        return self.runner.stack.units[name].log.since(mark)

    def events(self) -> list[Event]:
        return list(self.runner.stack.events.events)

    def restart(self, name: str) -> Any:
        return self.runner.call(self.runner.stack.restart(name))

    def kill(self, name: str, sig: int) -> list[int]:
        return self.runner.stack.kill(name, sig)

    def pause(self, name: str) -> list[int]:
        return self.runner.stack.pause(name)

    def resume(self, name: str) -> list[int]:
        return self.runner.stack.resume(name)

    def metrics(self, name: str) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            return self.runner.stack.metrics(name)

        return self.runner.call(read())

    def crashed(self, name: str) -> bool:
        unit = self.runner.stack.units[name]
        return unit.ctx is not None and unit.ctx.crash is not None

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
    ) -> None:
        self.project = proj
        self.mode = mode
        self.shared_state_dir = shared
        self.owner = owner
        self.reuse = reuse
        self._client: ControlClient | None = None
        self.reused: bool | None = None  # whether we attached to a stack from an earlier run
        local = {
            n: d if d.scope < Scope.SESSION else self._attached(d)
            for n, d in proj.graph.definitions.items()
        }
        self.local = LocalBackend(proj, local_dir, mode, Graph(local))

    def _session(self, name: str) -> bool:
        return self.project.graph[name].scope == Scope.SESSION

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

    # -- the shared launcher

    def client(self) -> ControlClient:
        if self._client is None:
            self.shared_state_dir.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.shared_state_dir / "launch.lock"), timeout=300):
                ep, _ = endpoint.find(self.shared_state_dir)
                if ep is None:
                    self._launch()
                    ep, _ = endpoint.find(self.shared_state_dir)
                    self.reused = False
                elif self.reused is None:
                    self.reused = True
                assert ep is not None
                self._client = ControlClient(ep)
                if self.reused:
                    self._refresh()
        return self._client

    def _launch(self) -> None:
        log = self.shared_state_dir / "launcher.log"
        argv = detached.launcher_argv(
            self.shared_state_dir,
            self.project.profile.path if self.project.profile else None,
            mode=self.mode,
            on_demand=True,
            exit_with=None if self.reuse else self.owner,
        )
        proc = detached.start(argv, self.project.root, log)
        try:
            detached.wait(proc, self.shared_state_dir, log, timeout=60).close()
        except detached.LauncherExited as e:
            raise StartError("<shared launcher>", "starting", str(e), e.tail) from None
        except TimeoutError as e:
            proc.kill()  # a launcher nobody can reach must not outlive us
            proc.wait()
            raise StartError("<shared launcher>", "starting", str(e)) from None

    def _refresh(self) -> None:
        """Reusing a stack from an earlier run: restart the services whose definition changed."""
        assert self._client is not None
        theirs = self._client.get("/status")["stack"].get("fingerprints", {})
        ours = projects.fingerprints(self.project.graph)
        if theirs != ours:
            self._client.post("/reload")  # the launcher restarts what changed

    # -- the backend interface

    def start(self, name: str) -> Any:
        if not self._session(name):
            return self.local.start(name)
        try:
            reply = self.client().post(f"/services/{name}/start")
        except ControlError as e:
            raise StartError(name, "failed", str(e)) from None
        except httpx.HTTPError as e:  # the shared launcher is gone: find or start one again
            self._client = None
            raise StartError(name, "failed", f"the shared launcher did not answer: {e}") from None
        return Handle(**reply["handle"])

    def _disruptive(self, name: str, action: str) -> None:
        if self._session(name) and self.owner is not None:
            raise StackError(
                f"{name!r} is shared by all pytest-xdist workers: {action} would disturb tests "
                "running on other workers. Use the `private_stack` fixture for a test that "
                "breaks services on purpose."
            )

    def stop(self, name: str) -> None:
        """The end of the fixture scope of `name`: shared services outlive any one worker."""
        if not self._session(name):
            self.local.stop(name)

    def stop_now(self, names: list[str]) -> list[ServiceStop]:
        """A test asked for these to stop (dependents first): shared ones through the API."""
        stops: list[ServiceStop] = []
        for name in names:
            if not self._session(name):
                stops += self.local.stop_now([name])
                continue
            self._disruptive(name, "stop")
            for s in self.client().post(f"/services/{name}/stop")["stops"]:
                stops.append(
                    ServiceStop(s["service"], s["graceful"], s["duration_s"], error=s["error"])
                )
        return stops

    def _status(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.client().get("/status")["services"]}

    def state(self, name: str) -> State:
        if not self._session(name):
            return self.local.state(name)
        return State(self._status()[name]["state"])

    def log_marks(self) -> dict[str, int]:
        marks = self.local.log_marks()
        if self._client is not None:
            marks.update({n: v["mark"] for n, v in self._client.get("/logs", n=0).items()})
        return marks

    def logs_since(self, name: str, mark: int) -> list[str]:
        if not self._session(name):
            return self.local.logs_since(name, mark)
        if self._client is None:
            return []
        reply = self._client.get(f"/logs/{name}", **{f"since.{name}": mark})
        return list(reply[name]["lines"])

    def events(self) -> list[Event]:
        shared = [Event.from_json(e) for e in self.client().get("/events")]
        return sorted([*shared, *self.local.events()], key=lambda e: e.time)

    def restart(self, name: str) -> Any:
        if not self._session(name):
            return self.local.restart(name)
        self._disruptive(name, "restart")
        self.client().post(f"/services/{name}/restart")
        return Handle(**self.client().get(f"/handles/{name}")["handle"])

    def _signal(self, name: str, action: str, body: dict[str, Any] | None = None) -> list[int]:
        return list(self.client().post(f"/services/{name}/{action}", body)["signalled"])

    def kill(self, name: str, sig: int) -> list[int]:
        if not self._session(name):
            return self.local.kill(name, sig)
        self._disruptive(name, "kill")
        return self._signal(name, "kill", {"signal": sig})

    def pause(self, name: str) -> list[int]:
        if not self._session(name):
            return self.local.pause(name)
        self._disruptive(name, "pause")
        return self._signal(name, "pause")

    def resume(self, name: str) -> list[int]:
        return self.local.resume(name) if not self._session(name) else self._signal(name, "resume")

    def metrics(self, name: str) -> dict[str, Any]:
        return self.local.metrics(name) if not self._session(name) else self._status()[name]

    def crashed(self, name: str) -> bool:
        if not self._session(name):
            return self.local.crashed(name)
        return self._status()[name]["state"] not in ("ready", "degraded")

    def stack_ids(self) -> set[str]:
        ids = self.local.stack_ids()
        if self._client is not None:
            ids.add(self._client.endpoint.stack_id)
        return ids

    @property
    def state_dir(self) -> Path:
        return self.shared_state_dir

    def close(self) -> None:
        self.local.close()
        if self._client is not None:
            self._client.close()
            self._client = None


def stop_shared(state_dir: Path, timeout: float = 120.0) -> bool:
    """Stop the shared launcher of `state_dir`, if one runs; True when there was one."""
    ep, _ = endpoint.find(state_dir)
    if ep is None:
        return False
    client = ControlClient(ep)
    try:
        with contextlib.suppress(Exception):
            client.post("/down")
    finally:
        client.close()
    with contextlib.suppress(psutil.Error):
        psutil.Process(ep.pid).wait(timeout)
    return True
