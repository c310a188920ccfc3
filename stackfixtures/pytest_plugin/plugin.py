"""The pytest front door: every service of the active profile is a fixture of the same name.

Services start when a test first needs them (their dependencies in parallel, each gated on
readiness) and stop, dependents first, when their fixture scope ends. Under pytest-xdist the
session-scoped services run once for all workers; with --stack-reuse they outlive the run;
beside a stack of the profile that already runs (`stack up`, `stack exec`, ...) they are
that stack's, left running.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .. import _project as projects
from .._config.choose import INI_KEY, choose
from .._engine.cleanup import ledger
from .._engine.cleanup.swept import Swept
from .._project.per_test import with_per_test
from ..errors import DefinitionError, ProtocolMismatch
from .attach import running_stack
from .fixtures import StackFixture, service_fixture, transactional_fixtures
from .routes import MARK_HELP, Swaps
from .shared import Backend, LocalBackend, SharedBackend, shared_dir, stop_shared


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
    group.addoption(
        "--stack-report",
        dest="stack_report",
        default=None,
        metavar="FILE",
        help="write the session's service timelines (states, restarts, critical chain, "
        "start/stop times) to FILE as one self-contained HTML page",
    )
    parser.addini("stack_profile", "stackfixtures profile for the test session", default="")
    parser.addini("stack_mode", "stackfixtures mode (single or multi)", default="")


class Plugin:
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
        # `stack exec`'s or `stack up`'s: not one of ours (its templates rebuilt once, here)
        self.attach = running_stack(proj, refresh=not self.worker)
        self.shared = self.worker or self.reuse
        self._backends: dict[str | None, Backend] = {}
        self.swept = Swept()
        self.swaps = Swaps(config, proj, self.basetemp)  # tests that replace a service

    def basetemp(self) -> Path:
        return Path(self.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]

    def backend(self, mode: str | None) -> Backend:
        if mode not in self._backends:
            local = self.basetemp() / ("stack" + (f"-{mode}" if mode else ""))
            owner = os.getppid() if self.worker else None  # the xdist controller
            if self.attach is not None and self.attach.mode == mode:
                self._backends[mode] = SharedBackend(
                    self.project, local, self.attach.state_dir, mode, owner, True, attached=True
                )
            elif self.shared:
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

    def running(self, mode: str | None) -> Backend | None:
        """The backend of `mode` if one was started (never starts one)."""
        return self._backends.get(mode)

    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    def stack_ids(self) -> set[str]:
        """Ids of the stacks this session runs (their processes carry STACKFIXTURES_STACK)."""
        return {i for b in self._backends.values() for i in b.stack_ids()} | self.swaps.stack_ids()

    def close(self) -> None:
        self.swaps.close()  # first: their services ran on the shared ones
        backends, self._backends = self._backends, {}
        for backend in backends.values():
            backend.close()

    def service_fixture(self, name: str) -> Any:
        return service_fixture(name, self.project, self.backend)


PLUGIN = pytest.StashKey[Plugin]()


def aside_fixture(name: str, why: str) -> Any:
    """A service the profile does not provide for: the tests that request it error, saying
    why (in the file that holds the mistake), and the rest of the session goes on."""

    def fixture() -> None:
        pytest.fail(f"service {name!r} cannot run: {why}", pytrace=False)

    fixture.__name__ = name
    return pytest.fixture(scope="session", name=name)(fixture)


def session_stack_ids(config: pytest.Config) -> set[str]:
    """Ids of the stacks the plugin runs for this session (empty when it runs none)."""
    plugin = config.stash.get(PLUGIN, None)
    return plugin.stack_ids() if plugin is not None else set()


def pytest_configure(config: pytest.Config) -> None:
    # the one resolver of every `stack` command: option, STACK_PROFILE, ini, the only profile
    option, ini = config.getoption("stack_profile"), config.getini(INI_KEY)
    chosen = choose(config.rootpath, option, ini, read_ini=False)
    profile = chosen.profile if chosen is not None else None
    try:
        proj = projects.load(profile, root=config.rootpath)
        proj.graph = with_per_test(proj.graph)  # postgres_db, redis_db, ... for free
    except DefinitionError as e:
        raise pytest.UsageError(f"stackfixtures: {e}") from None
    mode = config.getoption("stack_mode") or config.getini("stack_mode") or proj.mode
    try:
        plugin = Plugin(config, proj, mode)
    except ProtocolMismatch as e:  # the project's stack runs another version's launcher
        raise pytest.UsageError(f"stackfixtures: {e}") from None
    if not plugin.worker:
        plugin.swept = ledger.sweep()  # leftovers of stacks whose launcher crashed
        if config.getoption("stack_reuse") == "off":
            for reused in (proj.root / ".stack").glob(f"pytest-{proj.label}*"):
                stop_shared(reused)
    # pytest parses fixtures from a module-like holder: one per service, plus `stack`.
    holder = types.ModuleType("stackfixtures_services")
    for name in proj.graph.names:
        setattr(holder, name, plugin.service_fixture(name))
    for name, why in proj.aside.items():
        setattr(holder, name, aside_fixture(name, why))
    for name, fixture in transactional_fixtures(proj).items():  # `<server>_tx`
        setattr(holder, name, fixture)

    @pytest.fixture(scope="session", name="stack_mode")
    def stack_mode_fixture() -> str | None:
        """The stack's mode (single/multi). Override it with a parametrized session fixture
        to run the tests that use services once per mode."""
        return plugin.mode

    @pytest.fixture(scope="session", name="stack")
    def stack_fixture(stack_mode: str | None) -> StackFixture:
        """The running stack: handles, states, events and logs of its services."""
        return StackFixture(plugin.backend, proj, stack_mode)

    @pytest.fixture(name="private_stack")
    def private_stack_fixture(
        stack_mode: str | None, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[StackFixture]:
        """A stack of this test's own (same profile and mode), for tests that kill, pause or
        restart services on purpose: nothing shared with other tests or xdist workers."""
        backend = LocalBackend(proj, tmp_path_factory.mktemp("private-stack"), stack_mode)
        try:
            yield StackFixture(plugin.backend, proj, stack_mode, backend)
        finally:
            backend.close()

    setattr(holder, "private_stack", private_stack_fixture)  # noqa: B010
    setattr(holder, "stack_mode", stack_mode_fixture)  # noqa: B010 - a module object
    setattr(holder, "stack", stack_fixture)  # noqa: B010
    config.stash[PLUGIN] = plugin
    config.pluginmanager.register(holder, "stackfixtures-services")
    config.pluginmanager.register(plugin.swaps, "stackfixtures-swaps")
    config.addinivalue_line("markers", MARK_HELP)


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of session fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    plugin = session.config.stash.get(PLUGIN, None)
    if plugin is None:
        return
    plugin.close()
    controller = session.config.pluginmanager.has_plugin("dsession")
    if controller and not plugin.reuse:  # the xdist controller tears the shared stack down once
        base = Path(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
        for shared in base.glob("stack-shared*"):
            stop_shared(shared)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN, None)
    if plugin is not None:
        plugin.close()
