"""The lifecycle state machine: explicit states and the table of allowed transitions."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any

from ..errors import IllegalTransition


class State(enum.Enum):
    PENDING = "pending"  # known, never asked to start
    WAITING = "waiting"  # asked to start, waiting for its dependencies to be ready
    STARTING = "starting"  # its code runs; its readiness probe has not passed yet
    READY = "ready"  # yielded its handle: dependents may start
    COMPLETED = "completed"  # a task that ran to completion (exit 0): dependents may start
    DEGRADED = "degraded"  # running, but its liveness probe fails
    STOPPING = "stopping"  # teardown in progress
    STOPPED = "stopped"  # torn down (or never started because the stop came first)
    FAILED = "failed"  # could not start, or died; see the reason
    BACKOFF = "backoff"  # failed, and waiting to be restarted by its restart policy

    def __str__(self) -> str:
        return self.value


S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    S.PENDING: frozenset({S.WAITING, S.STOPPED}),
    S.WAITING: frozenset({S.STARTING, S.FAILED, S.STOPPED}),
    S.STARTING: frozenset({S.READY, S.COMPLETED, S.FAILED, S.STOPPING}),
    S.COMPLETED: frozenset({S.STOPPING}),
    S.READY: frozenset({S.STOPPING, S.DEGRADED, S.FAILED}),
    S.DEGRADED: frozenset({S.READY, S.STOPPING, S.FAILED}),
    S.STOPPING: frozenset({S.STOPPED, S.FAILED}),
    S.STOPPED: frozenset({S.WAITING}),
    S.FAILED: frozenset({S.WAITING, S.BACKOFF, S.STOPPED}),
    S.BACKOFF: frozenset({S.WAITING, S.STOPPED}),
}
"""Every allowed move. Anything else raises IllegalTransition: the engine has a bug."""

UP = frozenset({S.READY, S.DEGRADED, S.COMPLETED})
"""States in which a service's handle is valid and its dependents may run."""

Listener = Callable[..., None]
"""Called as `listener(service, source, target, reason, **extra)` after every move."""


class Lifecycle:
    """The current state of one service; every move is checked against TRANSITIONS and reported."""

    def __init__(self, service: str, on_change: Listener) -> None:
        self.service = service
        self.state = State.PENDING
        self.since = time.monotonic()
        self.reason = ""  # why it is in its state (the reason of the last move)
        self._on_change = on_change

    def move(self, target: State, reason: str = "", **extra: Any) -> None:
        if target not in TRANSITIONS[self.state]:
            raise IllegalTransition(self.service, str(self.state), str(target))
        source, self.state, self.since = self.state, target, time.monotonic()
        self.reason = reason
        self._on_change(self.service, source, target, reason, **extra)
