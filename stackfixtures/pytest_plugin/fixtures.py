"""What tests get: a fixture per service (its handle), and `stack`, the running stack as a test
sees it: handles, states, events, logs and fault injection, each a call of the control
protocol on whichever control runs that service."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from .. import _project as projects
from .._engine.events import Event
from .._engine.lifecycle import State
from .._engine.records import ServiceStop
from .._project.per_test import fixture_name
from .._project.templates import builder_name
from ..errors import StartError
from .shared import Backend

BackendFor = Callable[[str | None], Backend]
"""The session's backend for a mode (started on first use)."""

SERVICE = "_stackfixtures_service"
"""Set (to the service's name) on the plugin's own fixture functions: what tells them from a
user's fixture of the same name, which replaces the service for the tests that see it."""


class StackFixture:
    """The running stack as seen from a test: handles, states, events, logs, fault injection."""

    def __init__(
        self,
        backend_for: BackendFor,
        project: projects.Project,
        mode: str | None,
        backend: Backend | None = None,
    ) -> None:
        self._backend_for = backend_for
        self.project = project
        self.mode = mode
        self._own = backend

    @property
    def backend(self) -> Backend:
        return self._own or self._backend_for(self.mode)

    def handle(self, name: str) -> Any:
        return self.backend.start(name)

    def state(self, name: str) -> State:
        return self.backend.control_for(name).state(name)

    @property
    def events(self) -> list[Event]:
        merged = [e for c in self.backend.controls() for e in c.events()]
        return sorted(merged, key=lambda e: e.time)

    def logs(self, name: str, n: int = 50) -> list[str]:
        return self.backend.control_for(name).logs([name], n=n)[name]["lines"]

    def start(self, *names: str) -> dict[str, Any]:
        return {n: self.backend.start(n) for n in names}

    def stop(self, *names: str) -> list[ServiceStop]:
        """Stop these services now (and what depends on them); returns how each stopped."""
        stops: list[ServiceStop] = []
        for name in names:
            self.backend.check(name, "stop")
            stops += self.backend.control_for(name).stop([name])
        return stops

    def restart(self, name: str) -> Any:
        """Restart `name`; its dependents follow their edges. Returns its new handle."""
        self.backend.check(name, "restart")
        return self.backend.control_for(name).restart(name)

    def kill(self, name: str, sig: int | str = "SIGKILL", wait: float = 10.0) -> list[int]:
        """Fault injection: signal the service's processes (default SIGKILL). Returns once the
        engine has noticed them exit (up to `wait` seconds), so a following
        `wait_for(name, "ready")` waits for the restart, not for the old incarnation."""
        self.backend.check(name, "kill")
        return self.backend.control_for(name).kill(name, sig, wait)

    def pause(self, name: str) -> list[int]:
        """Fault injection: SIGSTOP the service (it hangs; liveness notices)."""
        self.backend.check(name, "pause")
        return self.backend.control_for(name).pause(name)

    def resume(self, name: str) -> list[int]:
        return self.backend.control_for(name).resume(name)

    def metrics(self, name: str) -> dict[str, Any]:
        """Its row of `status`: state, pid, uptime, restarts, health, RSS, CPU, ..."""
        rows = self.backend.control_for(name).status()["services"]
        return next(r for r in rows if r["name"] == name)

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        """Block until `name` is in `state` (e.g. "ready" again after a kill)."""
        self.backend.control_for(name).wait_for(name, state, timeout)

    @property
    def state_dir(self) -> Path:
        return self.backend.state_dir


def service_fixture(name: str, project: projects.Project, backend: BackendFor) -> Any:
    """The pytest fixture for service `name`: started when first needed, its handle returned,
    stopped when its scope ends (after its dependents, which pytest tears down first)."""
    scope = str(project.graph[name].scope)
    doc = f"stackfixtures service {name!r} ({scope} scope): its handle."
    # Started first, its dependencies with it (in parallel), then asked of pytest.
    after = project.graph.dependencies(name)
    return fixture_for(name, name, scope, doc, lambda _, mode: backend(mode), after)


RunsOn = Callable[[pytest.FixtureRequest, str | None], Backend]
"""Where a service fixture's service runs, given the test's request and stack mode (it may ask
pytest for fixtures first)."""


def fixture_for(
    name: str, fixture_name: str, scope: str, doc: str, runs_on: RunsOn, after: Sequence[str] = ()
) -> Any:
    """A pytest fixture `fixture_name` serving service `name` from what `runs_on` gives: its
    handle, or the test failed with the StartError's words (once, not chained); the fixtures
    `after` are asked for once it started (so pytest tears `name` down before each of them);
    the end of `scope` is told to what ran it."""

    def fixture(request: pytest.FixtureRequest, stack_mode: str | None) -> Iterator[Any]:
        runs = runs_on(request, stack_mode)
        failure = ""
        try:
            handle = runs.start(name)
        except StartError as e:
            failure = str(e)
        if failure:  # outside the `except`: reported once, not chained to the StartError
            pytest.fail(failure, pytrace=False)
        for dep in after:
            request.getfixturevalue(dep)
        yield handle
        runs.end_scope(name)

    fixture.__name__ = fixture_name
    fixture.__doc__ = doc
    setattr(fixture, SERVICE, name)
    return pytest.fixture(scope=scope, name=fixture_name)(fixture)  # type: ignore[call-overload]


def transactional_fixtures(project: projects.Project) -> dict[str, Any]:
    """`<server>_tx` for each postgres server (`postgres_tx`, `db_tx`, ...): a connection whose
    work in the test is rolled back afterwards (see rollback.py), unless the project defines
    that name itself; plus the session fixture holding each one's database."""
    found: dict[str, Any] = {}
    for server, d in project.graph.definitions.items():
        name = fixture_name(server, "postgres", "postgres_tx")
        if d.kind != "postgres" or "." in server or name in project.graph:
            continue
        builder = builder_name(server)  # the template's builder, when it has one
        built = builder if builder in project.graph else None
        found[f"_{name}_database"], found[name] = _transactional(server, built, name)
    return found


def _transactional(server: str, builder: str | None, name: str) -> tuple[Any, Any]:
    holder = f"_{name}_database"

    def database(request: pytest.FixtureRequest) -> Iterator[Any]:
        from .rollback import TxDatabase  # psycopg: only for the tests that use one

        handle = request.getfixturevalue(server)
        built = request.getfixturevalue(builder) if builder else None  # its template is ready
        template = getattr(built, "template", None) or getattr(handle, "template", None)
        db = TxDatabase(handle, template)
        try:
            yield db
        finally:
            db.close()

    def transactional(request: pytest.FixtureRequest) -> Iterator[Any]:
        db = request.getfixturevalue(holder)
        conn = db.connection()
        conn.begin_test()
        try:
            yield conn
        finally:
            conn.end_test()

    database.__name__, transactional.__name__ = holder, name
    transactional.__doc__ = (
        f"A psycopg connection to a database cloned from {server!r}'s template, its work "
        "rolled back after the test (commit() and rollback() become savepoints)."
    )
    return (
        pytest.fixture(scope="session", name=holder)(database),
        pytest.fixture(name=name)(transactional),
    )
