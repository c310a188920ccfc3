"""The control protocol: the verbs of a running stack, whoever runs it.

Two implementations: LocalControl drives an engine in this process (the launcher, a pytest
session's own stack), RemoteControl talks to a launcher over its Unix socket. The control
server is a route table over this protocol; the CLI's operating commands, the pytest `stack`
fixture, `private_stack` and the xdist-shared services are thin users of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:  # the protocol is for type checkers; its users import what they use
    from .._engine.events import Event
    from .._engine.lifecycle import State
    from .._engine.records import ServiceStop


class LogChunk(TypedDict):
    """A service's lines, when each was written (epoch seconds; absent from an older
    launcher), and the mark to pass as `since` to get only what comes after."""

    lines: list[str]
    mark: int
    times: NotRequired[list[float]]


class StackControl(Protocol):
    """Operating a running stack. Unknown service names raise UnknownService; operations the
    stack refuses raise a StackError that says why."""

    def status(self) -> dict[str, Any]:
        """`{"stack": {id, profile, root, state_dir, mode, uptime_s, ...}, "services": [row]}`;
        a row has name, state, pid, endpoint, uptime_s, restarts, health, rss_mb, cpu_percent,
        last_exit_code, replicas, ..."""
        ...

    def state(self, name: str) -> State: ...

    def handle(self, name: str) -> Any:
        """The handle of a READY (or DEGRADED) service; ServiceError otherwise."""
        ...

    def start(self, names: Sequence[str]) -> dict[str, Any]:
        """Start these and what they need; their handles once READY (StartError if not)."""
        ...

    def stop(self, names: Sequence[str] | None = None) -> list[ServiceStop]:
        """Stop these (default: all) and what depends on them, dependents first."""
        ...

    def restart(self, name: str) -> Any:
        """Restart `name`; dependents follow their edges. Its handle once READY again."""
        ...

    def kill(self, name: str, signal: int | str = "SIGKILL", wait: float = 0.0) -> list[int]:
        """Signal its processes as if something outside did; with `wait`, return once the
        engine has noticed them exit (up to `wait` seconds). The pids signalled."""
        ...

    def pause(self, name: str) -> list[int]:
        """SIGSTOP its process groups (a hang, not a crash)."""
        ...

    def resume(self, name: str) -> list[int]: ...

    def scale(self, name: str, replicas: int) -> dict[str, str]:
        """Run `replicas` copies of `name`; each replica's name and state."""
        ...

    def metrics(self) -> str:
        """Every service's figures in the Prometheus text format."""
        ...

    def logs(
        self,
        names: Sequence[str] | None = None,
        n: int = 100,
        since: Mapping[str, int] | None = None,
        wait: float = 0.0,
    ) -> dict[str, LogChunk]:
        """The last `n` lines of each service (all without `names`), or those after `since`
        marks, waiting up to `wait` seconds for new ones."""
        ...

    def events(self, since: int = 0, wait: float = 0.0) -> list[Event]:
        """Every state change after the `since`-th, waiting up to `wait` seconds for one."""
        ...

    def wait_for(self, name: str, state: str | State, timeout: float = 30.0) -> None:
        """Return once `name` is in `state`; TimeoutError after `timeout` seconds."""
        ...

    def reload(self) -> dict[str, Any]:
        """Pick up edited definitions and restart what changed: {"changed", "restarted"}."""
        ...

    def down(self, timeout: float = 120.0) -> bool:
        """Stop the whole stack (and its launcher); True once it is down within `timeout`."""
        ...
