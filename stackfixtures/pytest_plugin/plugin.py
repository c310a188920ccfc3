"""The pytest front door: every service of the active profile is a fixture of the same name.

Services start when a test first needs them (their dependencies in parallel, each gated on
readiness) and stop, dependents first, when their fixture scope ends. Under pytest-xdist the
session-scoped services run once for all workers; with --stack-reuse they outlive the run.
"""

from __future__ import annotations

import os
import time
import types
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .. import project as projects
from ..define.policies import parse_signal
from ..engine.chain import critical_chain, describe
from ..engine.cleanup import ledger
from ..engine.events import Event
from ..engine.lifecycle import State
from ..engine.stack import ServiceStop
from ..errors import DefinitionError, StartError
from .backends import LocalBackend, SharedBackend, shared_dir, stop_shared

Backend = LocalBackend | SharedBackend


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackfixtures", "stackfixtures: services as fixtures")
    group.addoption(
        "--stack-profile",
        dest="stack_profile",
        default=None,
        help="profile name (profiles/NAME.toml) or path; default: ini stack_profile",
    )
    group.addoption(
        "--stack-mode",
        dest="stack_mode",
        default=None,
        choices=["single", "multi"],
        help="override the profile's mode (single or multi process)",
    )
    group.addoption(
        "--stack-reuse",
        dest="stack_reuse",
        nargs="?",
        const="on",
        default=None,
        choices=["on", "off"],
        help="keep session services running after the run and attach to them next "
        "time (restarting what changed); --stack-reuse=off stops them",
    )
    parser.addini("stack_profile", "stackfixtures profile for the test session", default="")
    parser.addini("stack_mode", "stackfixtures mode (single or multi)", default="")


class StackFixture:
    """The running stack as seen from a test: handles, states, events, logs, fault injection."""

    def __init__(
        self, plugin: StackPlugin, mode: str | None, backend: Backend | None = None
    ) -> None:
        self._plugin = plugin
        self.mode = mode
        self._own = backend

    @property
    def backend(self) -> Backend:
        return self._own or self._plugin.backend(self.mode)

    @property
    def project(self) -> projects.Project:
        return self._plugin.project

    def handle(self, name: str) -> Any:
        return self.backend.start(name)

    def state(self, name: str) -> State:
        return self.backend.state(name)

    @property
    def events(self) -> list[Event]:
        return self.backend.events()

    def logs(self, name: str, n: int = 50) -> list[str]:
        return self.backend.logs_since(name, 0)[-n:]

    def start(self, *names: str) -> dict[str, Any]:
        return {n: self.backend.start(n) for n in names}

    def stop(self, *names: str) -> list[ServiceStop]:
        """Stop these services now (and what depends on them); returns how each stopped."""
        return self.backend.stop_now(list(names))

    def restart(self, name: str) -> Any:
        """Restart `name`; its dependents follow their edges. Returns its new handle."""
        return self.backend.restart(name)

    def kill(self, name: str, sig: int | str = "SIGKILL", wait: float = 10.0) -> list[int]:
        """Fault injection: signal the service's processes (default SIGKILL). Returns once the
        engine has noticed them exit (up to `wait` seconds), so a following
        `wait_for(name, "ready")` waits for the restart, not for the old incarnation."""
        pids = self.backend.kill(name, int(parse_signal(sig)))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not self.backend.crashed(name):
            time.sleep(0.005)
        return pids

    def pause(self, name: str) -> list[int]:
        """Fault injection: SIGSTOP the service (it hangs; liveness notices)."""
        return self.backend.pause(name)

    def resume(self, name: str) -> list[int]:
        return self.backend.resume(name)

    def metrics(self, name: str) -> dict[str, Any]:
        return self.backend.metrics(name)

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        """Block until `name` is in `state` (e.g. "ready" again after a kill)."""
        target = State(state) if isinstance(state, str) else state
        deadline = time.monotonic() + timeout
        while self.state(name) is not target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} is {self.state(name)}, not {target}, after {timeout}s")
            time.sleep(0.02)

    @property
    def state_dir(self) -> Path:
        return self.backend.state_dir


class StackPlugin:
    """The project and, lazily, one backend per mode for a pytest session.

    Every service fixture depends on the `stack_mode` fixture; overriding it with a
    parametrized fixture runs the dependent tests once per mode, one stack each.
    """

    def __init__(self, config: pytest.Config, proj: projects.Project, mode: str | None) -> None:
        self.config = config
        self.project = proj
        self.mode = mode
        self.reuse = config.getoption("stack_reuse") == "on"
        self.worker = hasattr(config, "workerinput")
        self.shared = self.worker or self.reuse
        self._backends: dict[str | None, Backend] = {}
        self.swept: list[ledger.Leftover] = []

    def backend(self, mode: str | None) -> Backend:
        if mode not in self._backends:
            base = Path(self.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
            local = base / ("stack" + (f"-{mode}" if mode else ""))
            if self.shared:
                owner = os.getppid() if self.worker else None  # the xdist controller
                self._backends[mode] = SharedBackend(
                    self.project,
                    local,
                    shared_dir(self.config, self.project, mode, self.reuse),
                    mode,
                    owner,
                    self.reuse,
                )
            else:
                self._backends[mode] = LocalBackend(self.project, local, mode)
        return self._backends[mode]

    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    def stack_ids(self) -> set[str]:
        """Ids of the stacks this session runs (their processes carry STACKFIXTURES_STACK)."""
        return {i for b in self._backends.values() for i in b.stack_ids()}

    def close(self) -> None:
        backends, self._backends = self._backends, {}
        for backend in backends.values():
            backend.close()

    def service_fixture(self, name: str) -> Any:
        deps = self.project.graph.dependencies(name)
        scope = str(self.project.graph[name].scope)

        def fixture(request: pytest.FixtureRequest, stack_mode: str | None) -> Iterator[Any]:
            backend = self.backend(stack_mode)
            try:
                handle = backend.start(name)
            except StartError as e:
                pytest.fail(str(e), pytrace=False)
            for dep in deps:  # tell pytest: `name` is torn down before each dependency
                request.getfixturevalue(dep)
            yield handle
            backend.stop(name)

        fixture.__name__ = name
        fixture.__doc__ = f"stackfixtures service {name!r} ({scope} scope): its handle."
        return pytest.fixture(scope=scope, name=name)(fixture)  # type: ignore[call-overload]


_PLUGIN = pytest.StashKey[StackPlugin]()
_MARKS = pytest.StashKey[tuple[str | None, dict[str, int]]]()


def session_stack_ids(config: pytest.Config) -> set[str]:
    """Ids of the stacks the plugin runs for this session (empty when it runs none)."""
    plugin = config.stash.get(_PLUGIN, None)
    return plugin.stack_ids() if plugin is not None else set()


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("stack_profile") or config.getini("stack_profile") or None
    try:
        proj = projects.load(profile, root=config.rootpath)
    except DefinitionError as e:
        raise pytest.UsageError(f"stackfixtures: {e}") from None
    mode = config.getoption("stack_mode") or config.getini("stack_mode") or proj.mode
    plugin = StackPlugin(config, proj, mode)
    if not plugin.worker:
        plugin.swept = ledger.sweep()  # leftovers of stacks whose launcher crashed
        if config.getoption("stack_reuse") == "off":
            for reused in (proj.root / ".stack").glob(f"pytest-{proj.label}*"):
                stop_shared(reused)
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

    @pytest.fixture(name="private_stack")
    def private_stack_fixture(
        stack_mode: str | None, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[StackFixture]:
        """A stack of this test's own (same profile and mode), for tests that kill, pause or
        restart services on purpose: nothing shared with other tests or xdist workers."""
        backend = LocalBackend(proj, tmp_path_factory.mktemp("private-stack"), stack_mode)
        try:
            yield StackFixture(plugin, stack_mode, backend)
        finally:
            backend.close()

    setattr(holder, "private_stack", private_stack_fixture)  # noqa: B010
    setattr(holder, "stack_mode", stack_mode_fixture)  # noqa: B010 - a module object
    setattr(holder, "stack", stack_fixture)  # noqa: B010
    config.stash[_PLUGIN] = plugin
    config.pluginmanager.register(holder, "stackfixtures-services")


def _used(plugin: StackPlugin, item: pytest.Item) -> list[str]:
    names = [n for n in getattr(item, "fixturenames", ()) if n in plugin.project.graph]
    return plugin.project.graph.closure(names) if names else []


def _item_mode(plugin: StackPlugin, item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return params.get("stack_mode", plugin.mode)  # type: ignore[no-any-return]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note where each service's log stands, so a failure can show what came after."""
    plugin = item.config.stash.get(_PLUGIN, None)
    if plugin is None or not _used(plugin, item):
        return
    mode = _item_mode(plugin, item)
    marks = plugin._backends[mode].log_marks() if mode in plugin._backends else {}
    item.stash[_MARKS] = (mode, marks)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report gets a section per service it used: what it logged meanwhile."""
    report = yield
    plugin = item.config.stash.get(_PLUGIN, None)
    if plugin is None or not report.failed or report.when not in ("setup", "call"):
        return report
    mode, marks = item.stash.get(_MARKS, (_item_mode(plugin, item), {}))
    backend = plugin._backends.get(mode)
    if backend is None:
        return report
    time.sleep(0.1)  # output reaches the log asynchronously: let the test's last lines land
    for name in _used(plugin, item):
        try:
            lines = backend.logs_since(name, marks.get(name, 0))
        except Exception:  # a report must never fail because a log could not be read
            continue
        if lines:
            report.sections.append(
                (f"stackfixtures: {name} log during this test", "\n".join(lines[-200:]))
            )
    return report


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of session fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    plugin = session.config.stash.get(_PLUGIN, None)
    if plugin is None:
        return
    plugin.close()
    controller = session.config.pluginmanager.has_plugin("dsession")
    if controller and not plugin.reuse:  # the xdist controller tears the shared stack down once
        base = Path(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
        for shared in base.glob("stack-shared*"):
            stop_shared(shared)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(_PLUGIN, None)
    if plugin is not None:
        plugin.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    plugin = config.stash.get(_PLUGIN, None)
    if plugin is None:
        return []
    proj = plugin.project
    where = str(proj.profile.path) if proj.profile else "conftest.py"
    mode = f", mode {plugin.mode}" if plugin.mode else ""
    lines = [
        f"stackfixtures: stopped leftover {s.service} (pid {s.pid}) of crashed stack {s.stack_id}"
        for s in plugin.swept
    ]
    services = ", ".join(proj.graph.names) or "none"
    lines.append(f"stackfixtures: profile {proj.label} ({where}){mode}; services: {services}")
    chain = _chain(plugin)
    lines.append(
        "stackfixtures: critical chain: "
        + (chain or "measured once services start (see the end of the run)")
    )
    return lines


def _chain(plugin: StackPlugin) -> str:
    for backend in plugin.backends():
        try:
            text = describe(critical_chain(backend.events(), plugin.project.graph.dependencies))
        except Exception:
            continue
        if text:
            return text
    if plugin.reuse:  # a stack kept from an earlier run already has a measured chain
        shared = shared_dir(plugin.config, plugin.project, plugin.mode, True)
        events = shared / "events.jsonl"
        if events.exists():
            from ..engine.events import read_events

            return describe(critical_chain(read_events(events), plugin.project.graph.dependencies))
    return ""


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    plugin = config.stash.get(_PLUGIN, None)
    if plugin is None:
        return
    chains = []
    for path in _event_logs(plugin, config):
        from ..engine.events import read_events

        text = describe(critical_chain(read_events(path), plugin.project.graph.dependencies))
        if text:
            chains.append(f"{path.parent.name}: {text}")
    if chains:
        terminalreporter.write_sep("-", "stackfixtures startup critical chain")
        for line in chains:
            terminalreporter.write_line(line)


def _event_logs(plugin: StackPlugin, config: pytest.Config) -> list[Path]:
    base = Path(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    found = [p for p in base.glob("stack*/events.jsonl")]
    if plugin.reuse:
        found += list(
            (plugin.project.root / ".stack").glob(f"pytest-{plugin.project.label}*/events.jsonl")
        )
    return sorted(found)
