"""The service model: definitions, handles and scopes. Pure data, no I/O."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, overload

from .policies import (
    DEFAULT_EDGE,
    NO_RESTART,
    LivenessPolicy,
    LogLimit,
    RestartPolicy,
    StopPolicy,
)

RESERVED_PARAMS = frozenset({"ctx"})
"""Parameter names a service function may take that are not dependencies."""


class Scope(enum.IntEnum):
    """How long a service lives under pytest; wider scopes have larger values."""

    FUNCTION = 0
    MODULE = 1
    PACKAGE = 2
    SESSION = 3

    @classmethod
    def parse(cls, value: str | Scope) -> Scope:
        if isinstance(value, Scope):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(
                f"unknown scope {value!r}; choose one of session, package, module, function"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


class Handle:
    """What a service hands to its dependents: host, port, url, dsn, env, or anything else.

    Attributes are free-form so that `${db.dsn}` wiring can read any of them.
    """

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)

    def __getattr__(self, name: str) -> Any:
        """Only reached for a missing attribute: say which ones the handle has."""
        if name.startswith("__"):
            raise AttributeError(name)
        have = ", ".join(sorted(self.__dict__)) or "none"
        raise AttributeError(f"handle has no attribute {name!r} (it has: {have})")

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Handle({inner})"

    def __eq__(self, other: object) -> bool:
        """Handles with the same attributes are equal (two stacks' handles of one service)."""
        return isinstance(other, Handle) and other.__dict__ == self.__dict__

    # Equal by value and mutable, so not hashable (as `types.SimpleNamespace`, a dict): a hash
    # by identity broke `a == b` => `hash(a) == hash(b)` (a set kept two equal handles).
    __hash__ = None  # type: ignore[assignment]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def attributes(handle: Any) -> dict[str, Any]:
    """A handle's public attributes: a Handle's, or those of any object a service yields."""
    if handle is None:
        return {}
    if hasattr(handle, "__dict__"):
        return {k: v for k, v in vars(handle).items() if not k.startswith("_")}
    return {"value": handle}


ServiceFunction = Callable[..., Any]
DEFAULT_START_TIMEOUT = 60.0
"""Seconds a service may take from starting to ready, unless it or its stack says otherwise."""
DEFAULT_PARALLELISM = 4
"""How many services may be starting at once, unless the stack says otherwise."""


@dataclass(frozen=True)
class ServiceDefinition:
    """One service: its name, the generator function that runs it, and what it depends on.

    `params` are the function's own dependency parameters (passed their handles by name);
    `extra_deps` are further dependencies (from a profile's depends_on) that only order startup.
    """

    name: str
    function: ServiceFunction
    params: tuple[str, ...]
    extra_deps: tuple[str, ...] = ()
    scope: Scope = Scope.SESSION
    config: Mapping[str, Any] = field(default_factory=dict)
    start_timeout: float | None = None  # None: the stack's default
    stop_policy: StopPolicy | None = None
    stop_overrides: Mapping[str, Any] = field(default_factory=dict)  # from a profile's `stop`
    inject: Mapping[str, str] = field(default_factory=dict)  # parameter -> service it receives
    restart: RestartPolicy = NO_RESTART
    liveness: LivenessPolicy | None = None
    edges: Mapping[str, str] = field(default_factory=dict)  # dependency -> restart|stop|ignore
    export: Mapping[str, Any] = field(default_factory=dict)  # container settings for exports
    env: Mapping[str, str] = field(default_factory=dict)
    kind: str | None = None
    source: str = ""
    replicas_allowed: bool = False
    replicas: int = 1  # how many copies run from the start (profile `replicas = N`)
    config_model: Any = None  # the pydantic model validating its profile keys (or "module:Class")
    # `config` validated by `config_model` once (_project/apply_profile.py): what the kind reads
    options: Any = None
    task: bool = False  # runs to completion: done (COMPLETED) when its code yields after exit 0
    port: int | None = None  # a fixed main port (profile `port = N`), else a free one
    watch: tuple[str, ...] = ()  # file patterns whose changes restart it (`stack run` watches)
    watch_ignore: tuple[str, ...] = ()  # patterns excluded from `watch`
    logs: LogLimit | None = None  # its log file's size bound (None: the default LogLimit())

    def edge(self, dependency: str) -> str:
        """What this service does when `dependency` restarts or fails."""
        return self.edges.get(dependency, DEFAULT_EDGE)

    def provider(self, param: str) -> str:
        """The service whose handle parameter `param` receives (itself, unless injected)."""
        return self.inject.get(param, param)

    @property
    def dependencies(self) -> tuple[str, ...]:
        seen = dict.fromkeys(self.provider(p) for p in self.params)
        seen.update(dict.fromkeys(self.extra_deps))
        return tuple(seen)

    @property
    def timeout(self) -> float:
        """Seconds this service may take from STARTING to READY."""
        return self.start_timeout or DEFAULT_START_TIMEOUT

    @property
    def wants_ctx(self) -> bool:
        return "ctx" in inspect.signature(self.function).parameters

    @property
    def is_async(self) -> bool:
        return inspect.isasyncgenfunction(self.function)

    def evolve(self, **changes: Any) -> ServiceDefinition:
        if "config" in changes and "options" not in changes:
            changes["options"] = None  # they were validated from the old config
        return replace(self, **changes)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calling a definition calls its function, so it stays usable as plain code."""
        return self.function(*args, **kwargs)


def _dependency_params(function: ServiceFunction) -> tuple[str, ...]:
    params = []
    for p in inspect.signature(function).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"service {function.__name__}: *args/**kwargs cannot name dependencies")
        if p.name not in RESERVED_PARAMS:
            params.append(p.name)
    return tuple(params)


@overload
def service(function: ServiceFunction, /) -> ServiceDefinition: ...
@overload
def service(
    *,
    name: str | None = None,
    scope: str | Scope = "session",
    depends_on: tuple[str, ...] | list[str] = (),
    start_timeout: float | None = None,
    stop: StopPolicy | None = None,
    replicas: bool = False,
    config: Any = None,
    restart: RestartPolicy | None = None,
    liveness: LivenessPolicy | None = None,
    edges: Mapping[str, str] | None = None,
    task: bool = False,
) -> Callable[[ServiceFunction], ServiceDefinition]: ...


def service(
    function: ServiceFunction | None = None,
    /,
    *,
    name: str | None = None,
    scope: str | Scope = "session",
    depends_on: tuple[str, ...] | list[str] = (),
    start_timeout: float | None = None,
    stop: StopPolicy | None = None,
    replicas: bool = False,
    config: Any = None,
    restart: RestartPolicy | None = None,
    liveness: LivenessPolicy | None = None,
    edges: Mapping[str, str] | None = None,
    task: bool = False,
) -> ServiceDefinition | Callable[[ServiceFunction], ServiceDefinition]:
    """Declare a service from a generator or async generator function, pytest-fixture style.

    Parameters name the services it depends on; what it yields is its handle; the code after
    `yield` is its teardown. A parameter named `ctx` receives its ServiceContext instead.
    `config` is a pydantic model class for the keys a profile may set on this service (or its
    name, "module:Class", imported only when a profile is validated).
    `task=True`: the code before `yield` runs the work to completion (e.g. migrations); the
    service is then COMPLETED and its dependents start, with nothing left running.
    """

    def wrap(fn: ServiceFunction) -> ServiceDefinition:
        if not (inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)):
            raise TypeError(
                f"@service {fn.__qualname__} must be a generator or async generator function "
                "(it must `yield` its handle)"
            )
        return ServiceDefinition(
            name=name or fn.__name__,
            function=fn,
            params=_dependency_params(fn),
            extra_deps=tuple(depends_on),
            scope=Scope.parse(scope),
            start_timeout=start_timeout,
            stop_policy=stop,
            source=f"{fn.__module__}:{fn.__qualname__}",
            replicas_allowed=replicas,
            config_model=config,
            restart=restart or NO_RESTART,
            liveness=liveness,
            edges=dict(edges or {}),
            task=task,
        )

    if function is not None:
        return wrap(function)
    return wrap
