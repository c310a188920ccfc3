"""The pytest front door: every service of the active profile is a fixture of the same name.

Services start when a test first needs them (their dependencies in parallel, each gated on
readiness) and stop, dependents first, when their fixture scope ends.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import project as projects
from .errors import DefinitionError, StartError
from .runtime.events import Event
from .runtime.lifecycle import State
from .runtime.runner import StackThread
from .runtime.stack import ServiceStop


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackfixtures", "stackfixtures: services as fixtures")
    group.addoption(
        "--stack-profile",
        dest="stack_profile",
        default=None,
        help="profile name (profiles/NAME.toml) or path; default: ini stack_profile",
    )
    parser.addini("stack_profile", "stackfixtures profile for the test session", default="")


class StackFixture:
    """The running stack as seen from a test: handles, states, events, logs."""

    def __init__(self, plugin: StackPlugin) -> None:
        self._plugin = plugin

    @property
    def runner(self) -> StackThread:
        return self._plugin.runner()

    @property
    def project(self) -> projects.Project:
        assert self._plugin.project is not None
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

    def stop(self, *names: str) -> list[ServiceStop]:
        return self.runner.stop(names or None)

    @property
    def state_dir(self) -> Path:
        return self.runner.stack.state_dir


class StackPlugin:
    """Holds the project and (lazily) the stack thread for one pytest session."""

    def __init__(self, config: pytest.Config, proj: projects.Project) -> None:
        self.config = config
        self.project = proj
        self._runner: StackThread | None = None

    def runner(self) -> StackThread:
        if self._runner is None:
            factory = self.config._tmp_path_factory  # type: ignore[attr-defined]
            state_dir = Path(factory.getbasetemp()) / "stack"
            self._runner = StackThread(
                self.project.graph,
                state_dir=state_dir,
                root=self.project.root,
                parallelism=self.project.parallelism,
            )
        return self._runner

    def close(self) -> list[ServiceStop]:
        runner, self._runner = self._runner, None
        return runner.close() if runner is not None else []

    def service_fixture(self, name: str) -> Any:
        deps = self.project.graph.dependencies(name)
        scope = str(self.project.graph[name].scope)

        def fixture(request: pytest.FixtureRequest) -> Iterator[Any]:
            runner = self.runner()
            try:
                handles = runner.start([name])
            except StartError as e:
                pytest.fail(str(e), pytrace=False)
            for dep in deps:  # tell pytest: `name` is torn down before each dependency
                request.getfixturevalue(dep)
            yield handles[name]
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
    plugin = StackPlugin(config, proj)
    # pytest parses fixtures from a module-like holder: one per service, plus `stack`.
    holder = types.ModuleType("stackfixtures_services")
    for name in proj.graph.names:
        setattr(holder, name, plugin.service_fixture(name))

    @pytest.fixture(scope="session", name="stack")
    def stack_fixture() -> StackFixture:
        """The running stack: handles, states, events and logs of its services."""
        return StackFixture(plugin)

    setattr(holder, "stack", stack_fixture)  # noqa: B010 - a module object typed as such
    config.stash[_PLUGIN] = plugin
    config.pluginmanager.register(holder, "stackfixtures-services")


_PLUGIN = pytest.StashKey[StackPlugin]()


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
    return [
        f"stackfixtures: profile {proj.label} ({where}); services: "
        + (", ".join(proj.graph.names) or "none")
    ]
