"""Policies, as pure values: how a process is stopped, how a failed service is restarted,
how its liveness is checked, and what a dependent does when a dependency restarts or fails."""

from __future__ import annotations

import random
import signal as _signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal


def parse_signal(value: str | int) -> _signal.Signals:
    """`"SIGTERM"`, `"TERM"` or `15` -> `signal.SIGTERM`."""
    if isinstance(value, int):
        return _signal.Signals(value)
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return _signal.Signals[name]
    except KeyError:
        raise ValueError(f"unknown signal {value!r}") from None


@dataclass(frozen=True)
class StopPolicy:
    """How a process is stopped: `signal`, wait up to `grace` seconds, then SIGKILL its group.

    `mode="mixed"` signals the main process only (like systemd's KillMode=mixed: servers such as
    PostgreSQL must not have their children signalled); `"group"` signals the whole process group.
    Whatever is left of the group after the main process exits is killed either way.
    `action`, when set, replaces the signal with the server's own shutdown protocol (e.g. Redis
    SHUTDOWN); it is awaited with the process, and the signal is sent if it raises.
    """

    signal: _signal.Signals = _signal.SIGTERM
    grace: float = 10.0
    mode: str = "mixed"
    action: Callable[[Any], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        if self.grace < 0:
            raise ValueError("grace must be >= 0")
        if self.mode not in ("mixed", "group"):
            raise ValueError(f"stop mode must be 'mixed' or 'group', not {self.mode!r}")


def stop(
    signal: str | int = StopPolicy.signal,
    grace: float | str = StopPolicy.grace,
    mode: str = StopPolicy.mode,
    action: Callable[[Any], Awaitable[None]] | None = None,
) -> StopPolicy:
    """Build a StopPolicy; `grace` takes seconds or strings like `"10s"`, `"500ms"`."""
    return StopPolicy(parse_signal(signal), parse_duration(grace), mode, action)


def override_stop(policy: StopPolicy, overrides: Mapping[str, Any]) -> StopPolicy:
    """`policy` with the fields a profile set; an explicit signal replaces a shutdown action."""
    if not overrides:
        return policy
    changes = dict(overrides)
    if "signal" in changes:
        changes["signal"] = parse_signal(changes["signal"])
        changes["action"] = None
    if "grace" in changes:
        changes["grace"] = parse_duration(changes["grace"])
    return replace(policy, **changes)


def parse_duration(value: float | int | str) -> float:
    """Seconds from `5`, `2.5`, `"5s"`, `"500ms"` or `"1m"`."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


RestartMode = Literal["no", "on-failure", "always"]
Backoff = Literal["fixed", "exponential", "linear"]
Edge = Literal["restart", "stop", "ignore"]

DEFAULT_EDGE: Edge = "restart"
"""What a dependent does when a dependency restarts or fails, unless its edge says otherwise:
it is stopped before the dependency goes down and started again once the dependency is READY.
Like systemd's BindsTo + PartOf: a client holding connections to a dead server is restarted
rather than left half-broken. Use "ignore" for clients that reconnect by themselves."""


@dataclass(frozen=True)
class RestartPolicy:
    """`policy` decides whether a failed service is restarted; at most `max_restarts` within
    `window` seconds, waiting `delay` (fixed), `delay * n` (linear) or `delay * 2**(n-1)`
    (exponential), capped at `max_delay`, +/- `jitter` (a fraction). Past the limit the circuit
    opens: FAILED until restarted by hand, or one try after `half_open_after` seconds.

    These defaults are the only ones: a profile's `restart` table and `restart()` take theirs
    from here. Asking for a restart policy without naming one (`restart = {}`, `restart()`)
    means "on-failure"; a service that asks for none is never restarted (NO_RESTART)."""

    policy: RestartMode = "on-failure"
    max_restarts: int = 5
    window: float = 60.0
    backoff: Backoff = "exponential"
    delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.1
    half_open_after: float | None = None

    def __post_init__(self) -> None:
        if self.policy not in ("no", "on-failure", "always"):
            raise ValueError(
                f"restart policy must be no, on-failure or always, not {self.policy!r}"
            )
        if self.backoff not in ("fixed", "exponential", "linear"):
            raise ValueError(f"backoff must be fixed, exponential or linear, not {self.backoff!r}")
        if self.max_restarts < 0 or self.window <= 0 or self.delay < 0 or not 0 <= self.jitter < 1:
            raise ValueError("max_restarts >= 0, window > 0, delay >= 0 and 0 <= jitter < 1")

    def wants_restart(self, exit_code: int | None) -> bool:
        """Whether a failure with this exit code (None: it never got ready) is restarted."""
        if self.policy == "always":
            return True
        return self.policy == "on-failure" and exit_code != 0

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before restart number `attempt` (1-based)."""
        if self.backoff == "fixed":
            base = self.delay
        elif self.backoff == "linear":
            base = self.delay * attempt
        else:
            base = self.delay * 2 ** (attempt - 1)
        base = min(base, self.max_delay)
        spread = base * self.jitter
        return max(0.0, base + (rng or random).uniform(-spread, spread))


@dataclass(frozen=True)
class LivenessPolicy:
    """Check `probe` every `period` seconds (each check may take `timeout`); after
    `failure_threshold` failures in a row a READY service is DEGRADED, and READY again after a
    pass. A stalled service is therefore noticed within period * threshold + timeout."""

    probe: Any  # a Probe, or a profile table such as {"http": "/health"}
    period: float = 5.0
    timeout: float = 2.0
    failure_threshold: int = 3

    def __post_init__(self) -> None:
        if self.period <= 0 or self.timeout <= 0 or self.failure_threshold < 1:
            raise ValueError("period > 0, timeout > 0 and failure_threshold >= 1")

    @property
    def bound(self) -> float:
        """The longest a stall can go unnoticed."""
        return self.period * self.failure_threshold + self.timeout


def liveness(
    probe: Any,
    period: float = LivenessPolicy.period,
    timeout: float = LivenessPolicy.timeout,
    failure_threshold: int = LivenessPolicy.failure_threshold,
) -> LivenessPolicy:
    """A liveness check for `@service(liveness=...)`."""
    return LivenessPolicy(probe, period, timeout, failure_threshold)


NO_RESTART = RestartPolicy(policy="no")
"""The restart policy of a service that asks for none: never restarted (like compose and
systemd)."""


def restart(policy: RestartMode = RestartPolicy.policy, **options: Any) -> RestartPolicy:
    """A restart policy for `@service(restart=...)`; the defaults are RestartPolicy's."""
    return RestartPolicy(policy, **options)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_SIZE_UNITS |= {"k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30}


def parse_size(value: int | str) -> int:
    """Bytes from `1048576`, `"50MB"`, `"512KiB"`, `"1.5GB"` (KB/MB/GB: powers of 1000,
    K/M/G and KiB/MiB/GiB: powers of 1024). ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        return value
    text = value.strip().lower().replace(" ", "")
    number = text.rstrip("kmgib")
    unit = text[len(number) :]
    try:
        return int(float(number) * _SIZE_UNITS[unit])
    except (KeyError, ValueError):
        raise ValueError(f"not a size: {value!r}") from None


@dataclass(frozen=True)
class LogLimit:
    """A service's log file is rotated once it would grow past `max_size` bytes: `app.log`
    becomes `app.log.1` (and `.1` `.2`, ...), keeping `keep` old files."""

    max_size: int = 50 * 10**6
    keep: int = 3
