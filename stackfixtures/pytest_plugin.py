"""The pytest front door: every service of the active profile is a fixture of the same name.

Services start when a test first needs them (their dependencies in parallel, each gated on
readiness) and stop, dependents first, when their fixture scope ends.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import project as projects
from .errors import DefinitionError, StartError
from .model import parse_signal
from .runtime import ledger
from .runtime.events import Event
from .runtime.lifecycle import State
from .runtime.runner import StackThread
from .runtime.stack import ServiceStop


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackfixtures", "stackfixtures: services as fixtures")
    group.addoption(
        "--stack-mode",
        dest="stack_mode",
        default=None,
        choices=["single", "multi"],
        help="override the profile's mode (single or multi process)",
    )
    parser.addini("stack_mode", "stackfixtures mode (single or multi)", default="")
    group.addoption(
        "--stack-profile",
        dest="stack_profile",
        default=None,
        help="profile name (profiles/NAME.toml) or path; default: ini stack_profile",
    )
    parser.addini("stack_profile", "stackfixtures profile for the test session", default="")


class StackFixture:
    """The running stack as seen from a test: handles, states, events, logs."""

    def __init__(self, plugin: StackPlugin, mode: str | None) -> None:
        self._plugin = plugin
        self.mode = mode

    @property
    def runner(self) -> StackThread:
        return self._plugin.runner(self.mode)

    @property
    def project(self) -> projects.Project:
        return self._plugin.project

    def handle(self, name: str) -> Any:
        return self.runner.stack.handle(name)

    def state(self, name: str) -> State:
        return self.runner.state(name)

    @property
    def events(self) -> list[Event]:
        return list(self.runner.stack.events.events)

    def logs(self, name: str, n: int = 50) -> list[str]:
        return self.runner.stack.units[name].log.tail(n)

    def start(self, *names: str) -> dict[str, Any]:
        return self.runner.start(names, retry_failed=True)

    def restart(self, name: str) -> Any:
        """Restart `name`; its dependents follow their edges. Returns its new handle."""
        return self.runner.call(self.runner.stack.restart(name))

    def kill(self, name: str, sig: int | str = "SIGKILL", wait: float = 10.0) -> list[int]:
        """Fault injection: signal the service's processes (default SIGKILL). Returns once the
        engine has noticed them exit (up to `wait` seconds), so a following
        `wait_for(name, "ready")` waits for the restart, not for the old incarnation."""
        unit = self.runner.stack.units[name]
        ctx = unit.ctx
        pids = self.runner.stack.kill(name, int(parse_signal(sig)))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and ctx is not None and ctx.crash is None:
            if unit.state not in (State.READY, State.DEGRADED):
                break
            time.sleep(0.005)
        return pids

    def pause(self, name: str) -> list[int]:
        """Fault injection: SIGSTOP the service (it hangs; liveness notices)."""
        return self.runner.stack.pause(name)

    def resume(self, name: str) -> list[int]:
        return self.runner.stack.resume(name)

    def metrics(self, name: str) -> dict[str, Any]:
        return self.runner.call(_metrics(self.runner.stack, name))

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        """Block until `name` is in `state` (e.g. "ready" again after a kill)."""
        target = State(state) if isinstance(state, str) else state
        deadline = time.monotonic() + timeout
        while self.state(name) is not target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} is {self.state(name)}, not {target}, after {timeout}s")
            time.sleep(0.02)

    def stop(self, *names: str) -> list[ServiceStop]:
        return self.runner.stop(names or None)

    @property
    def state_dir(self) -> Path:
        return self.runner.stack.state_dir


async def _metrics(stack: Any, name: str) -> dict[str, Any]:
    return stack.metrics(name)  # type: ignore[no-any-return]


class StackPlugin:
    """Holds the project and, lazily, one stack thread per mode for a pytest session.

    Every service fixture depends on the `stack_mode` fixture; overriding it with a
    parametrized fixture runs the dependent tests once per mode, one stack each.
    """

    def __init__(self, config: pytest.Config, proj: projects.Project, mode: str | None) -> None:
        self.config = config
        self.project = proj
        self.mode = mode
        self._runners: dict[str | None, StackThread] = {}
        self.swept: list[ledger.Leftover] = []

    def runner(self, mode: str | None) -> StackThread:
        if mode not in self._runners:
            factory = self.config._tmp_path_factory  # type: ignore[attr-defined]
            state_dir = Path(factory.getbasetemp()) / ("stack" + (f"-{mode}" if mode else ""))
            self._runners[mode] = StackThread(
                self.project.graph,
                state_dir=state_dir,
                root=self.project.root,
                parallelism=self.project.parallelism,
                mode=mode,
            )
        return self._runners[mode]

    def stack_ids(self) -> set[str]:
        """Ids of the stacks this session runs (their processes carry STACKFIXTURES_STACK)."""
        return {r.stack.stack_id for r in self._runners.values() if not r.closed}

    def close(self) -> list[ServiceStop]:
        runners, self._runners = self._runners, {}
        return [stop for r in runners.values() for stop in r.close()]

    def service_fixture(self, name: str) -> Any:
        deps = self.project.graph.dependencies(name)
        scope = str(self.project.graph[name].scope)

        def fixture(request: pytest.FixtureRequest, stack_mode: str | None) -> Iterator[Any]:
            runner = self.runner(stack_mode)
            try:
                handles = runner.start([name])
            except StartError as e:
                pytest.fail(str(e), pytrace=False)
            for dep in deps:  # tell pytest: `name` is torn down before each dependency
                request.getfixturevalue(dep)
            yield handles[name]
            if not runner.closed:
                runner.stop([name])

        fixture.__name__ = name
        fixture.__doc__ = f"stackfixtures service {name!r} ({scope} scope): its handle."
        return pytest.fixture(scope=scope, name=name)(fixture)  # type: ignore[call-overload]


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("stack_profile") or config.getini("stack_profile") or None
    try:
        proj = projects.load(profile, root=config.rootpath)
    except DefinitionError as e:
        raise pytest.UsageError(f"stackfixtures: {e}") from None
    mode = config.getoption("stack_mode") or config.getini("stack_mode") or proj.mode
    plugin = StackPlugin(config, proj, mode)
    plugin.swept = ledger.sweep()  # leftovers of stacks whose launcher crashed
    # pytest parses fixtures from a module-like holder: one per service, plus `stack`.
    holder = types.ModuleType("stackfixtures_services")
    for name in proj.graph.names:
        setattr(holder, name, plugin.service_fixture(name))

    @pytest.fixture(scope="session", name="stack_mode")
    def stack_mode_fixture() -> str | None:
        """The stack's mode (single/multi). Override it with a parametrized session fixture
        to run the tests that use services once per mode."""
        return plugin.mode

    @pytest.fixture(scope="session", name="stack")
    def stack_fixture(stack_mode: str | None) -> StackFixture:
        """The running stack: handles, states, events and logs of its services."""
        return StackFixture(plugin, stack_mode)

    setattr(holder, "stack_mode", stack_mode_fixture)  # noqa: B010 - a module object
    setattr(holder, "stack", stack_fixture)  # noqa: B010
    config.stash[_PLUGIN] = plugin
    config.pluginmanager.register(holder, "stackfixtures-services")


_PLUGIN = pytest.StashKey[StackPlugin]()


def session_stack_ids(config: pytest.Config) -> set[str]:
    """Ids of the stacks the plugin runs for this session (empty when it runs none)."""
    plugin = config.stash.get(_PLUGIN, None)
    return plugin.stack_ids() if plugin is not None else set()


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of session fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    plugin = session.config.stash.get(_PLUGIN, None)
    if plugin is not None:
        plugin.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(_PLUGIN, None)
    if plugin is not None:
        plugin.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    plugin = config.stash.get(_PLUGIN, None)
    if plugin is None or plugin.project is None:
        return []
    proj = plugin.project
    where = str(proj.profile.path) if proj.profile else "conftest.py"
    mode = f", mode {plugin.mode}" if plugin.mode else ""
    lines = [
        f"stackfixtures: stopped leftover {s.service} (pid {s.pid}) of crashed stack {s.stack_id}"
        for s in plugin.swept
    ]
    services = ", ".join(proj.graph.names) or "none"
    return [*lines, f"stackfixtures: profile {proj.label} ({where}){mode}; services: {services}"]
