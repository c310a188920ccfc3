"""ServiceContext: what a running service's code can reach (its config, dirs, port, log, deps)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._define import templates as wiring
from .._define.policies import StopPolicy, override_stop
from .._define.service import ServiceDefinition
from ..errors import PortInUse
from . import private_files, resources, state_dirs
from .logs import ServiceLog
from .markers import SERVICE_ENV, STACK_ENV
from .ports import allocate_port, bindable
from .records import StopRecord
from .resources import Resources
from .venv import own_bin_first

_current: contextvars.ContextVar[ServiceContext] = contextvars.ContextVar("stackfixtures_service")


@dataclass
class ServiceContext:
    """Per-instance context given to a service's code as `ctx` and through `current()`."""

    definition: ServiceDefinition
    stack_id: str
    root: Path
    state_dir: Path
    log: ServiceLog
    deps: Mapping[str, Any]
    loop: asyncio.AbstractEventLoop
    hurry: asyncio.Event
    mode: str | None = None  # the stack's mode ("single"/"multi"), for services that have modes
    ledger: Any = None  # the stack's Ledger: every process started is written down
    host: str = "127.0.0.1"
    processes: list[Any] = field(default_factory=list)
    stop_records: list[StopRecord] = field(default_factory=list)
    deadline: float | None = None  # time.monotonic() by which it must be ready
    crashed: asyncio.Event = field(default_factory=asyncio.Event)  # a process exited unasked
    crash: tuple[int, int | None] | None = None  # (pid, exit code) of the first such exit
    crashed_what: str = ""  # what crashed, when not a process of ours ("container 1a2b3c")
    waiting_for: str = ""  # the readiness probe being polled now (resolved), for progress lines
    last_probe_error: str = ""  # its last answer
    marked: bool = False  # environment() handed out the stack's marker: a stop sweeps for it
    _port: int | None = None

    def process_exited(self, pid: int, returncode: int | None, expected: bool) -> None:
        """Told by each process as it exits; an exit nobody asked for is a crash."""
        if not expected and self.crash is None:
            self.crash = (pid, returncode)
            self.crashed.set()

    def ended_unasked(self, what: str, returncode: int | None) -> None:
        """Told by something that is not a process of ours (a container, `what`) that ended
        while nobody asked: a crash, as for a process."""
        if self.crash is None:
            self.crashed_what = what
            self.crash = (0, returncode)
            self.crashed.set()

    def record_stop(
        self, what: int, graceful: bool, returncode: int | None, began: float, note: str = ""
    ) -> None:
        """How something the service ran that is not a process of ours (a container; `what`:
        its main pid, 0 if unknown) stopped, from `began` (time.monotonic()): graceful when it
        exited within its grace, forced when it had to be killed (`note` says why)."""
        record = StopRecord(
            service=self.name,
            pid=what,
            graceful=graceful,
            returncode=returncode,
            duration_s=time.monotonic() - began,
            signal=self.stop_policy().signal.name,
            note=note,
        )
        self.stop_records.append(record)

    def remaining(self) -> float:
        """Seconds left of the start budget (the whole timeout when no start is under way)."""
        if self.deadline is None:
            return self.definition.timeout
        return max(0.05, self.deadline - time.monotonic())

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def config(self) -> Mapping[str, Any]:
        return self.definition.config

    @property
    def data_dir(self) -> Path:
        """Where the service keeps data that should survive a restart of the same stack."""
        return state_dirs.subdir(self.state_dir / "data")  # 0700, as all a state dir holds

    @property
    def port(self) -> int:
        """The service's main port, chosen on first use and then kept: the fixed one (`port =
        N`; PortInUse at once if another process holds it), else the one this state dir used
        last time when it is free (so URLs survive a restart of the stack), else a free one."""
        if self._port is None:
            fixed = self.definition.port
            if fixed:
                self.require_free(int(fixed))
                self._port = int(fixed)
            else:
                saved = self.state_dir / "port"
                with contextlib.suppress(OSError, ValueError):
                    remembered = int(saved.read_text())
                    self._port = allocate_port(self.host, remembered, str(self.state_dir))
                if self._port is None:
                    self._port = allocate_port(self.host, owner=str(self.state_dir))
                with contextlib.suppress(OSError):
                    private_files.write(saved, str(self._port))
        return self._port

    def require_free(self, port: int) -> None:
        """PortInUse, naming the process that holds it, unless `port` can be bound on the
        service's host: for a fixed port, checked before anything starts."""
        if not bindable(port, self.host):
            from .listeners import holder

            found = holder(port, self.stack_id)
            tail = self.log.tail()
            raise PortInUse(self.name, port, found.who, log_tail=tail, remedy=found.remedy)

    @property
    def port_if_chosen(self) -> int | None:
        """The main port if one was chosen already (None: nothing asked for `port` yet)."""
        return self._port

    def keep_port(self, port: int) -> None:
        """Use `port` as the main port (the previous incarnation's, so handles stay valid)."""
        self._port = port

    def new_port(self) -> int:
        """Another free loopback port, for services that listen on more than one."""
        return allocate_port(self.host)

    @property
    def resources(self) -> Resources:
        """Helpers the services of this stack share across incarnations (_engine/resources.py)."""
        return resources.of(self.stack_id)

    def stop_policy(self, default: StopPolicy | None = None) -> StopPolicy:
        """The code's policy (`default`, else the definition's) with the profile's overrides."""
        base = default or self.definition.stop_policy or StopPolicy()
        return override_stop(base, self.definition.stop_overrides)

    def own(self, key: str) -> Any:
        """Values for `${key}` templates without a dot."""
        if key == "port":
            return self.port
        if key == "host":
            return self.host
        if key == "state_dir":
            return self.state_dir
        if key == "data_dir":
            return self.data_dir
        if key == "root":
            return self.root
        if key == "name":
            return self.name
        raise KeyError(
            f"${{{key}}} is not a known value (use ${{port}}, ${{host}}, "
            "${state_dir}, ${data_dir}, ${root}, ${name} or ${service.attribute})"
        )

    def render(self, text: str, deps: Mapping[str, Any] | None = None) -> str:
        """Fill `${port}` and `${dep.attr}` in a command argument, env value or probe target;
        with `deps`, the dependencies' handles as seen from elsewhere (inside a container)."""
        return wiring.render(text, self.own, self.deps if deps is None else deps)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a child process: ours, the definition's env, `extra`, markers."""
        self.marked = True
        env = own_bin_first(dict(os.environ))
        for k, v in {**self.definition.env, **(extra or {})}.items():
            env[k] = self.render(str(v))
        env[STACK_ENV] = self.stack_id
        env[SERVICE_ENV] = self.name
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def current() -> ServiceContext:
    """The context of the service whose code is running now (inside a @service function)."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("not inside a running stackfixtures service") from None


def set_current(ctx: ServiceContext) -> contextvars.Token[ServiceContext]:
    return _current.set(ctx)
