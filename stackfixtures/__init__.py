"""stackfixtures: dependent backend services as pytest-style fixtures.

Write each service once as a generator (`@service`); its parameters name its dependencies, it
yields a handle, and the code after `yield` is its teardown. Run the graph from pytest (every
service is a fixture) or with `stack run`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time each name loads on first use
    from .define.graph import Graph
    from .define.policies import LivenessPolicy, RestartPolicy, StopPolicy, liveness, restart, stop
    from .define.service import Handle, Scope, ServiceDefinition, service
    from .engine import probes as probe
    from .engine.context import ServiceContext, current
    from .engine.lifecycle import State
    from .engine.process import Process, spawn
    from .engine.stack import ServiceStop, Stack
    from .engine.together import together
    from .errors import (
        DefinitionError,
        DependencyCycle,
        DependencyFailed,
        GraphError,
        IllegalTransition,
        KindUnavailable,
        ProbeTimeout,
        ProcessExited,
        ProfileError,
        ScopeMismatch,
        ServiceError,
        StackError,
        StartError,
        StartupCrashed,
        StopError,
        UnknownDependency,
    )

_EXPORTS: dict[str, tuple[str, str]] = {
    "DefinitionError": (".errors", "DefinitionError"),
    "DependencyCycle": (".errors", "DependencyCycle"),
    "DependencyFailed": (".errors", "DependencyFailed"),
    "Graph": (".define.graph", "Graph"),
    "GraphError": (".errors", "GraphError"),
    "Handle": (".define.service", "Handle"),
    "IllegalTransition": (".errors", "IllegalTransition"),
    "KindUnavailable": (".errors", "KindUnavailable"),
    "LivenessPolicy": (".define.policies", "LivenessPolicy"),
    "ProbeTimeout": (".errors", "ProbeTimeout"),
    "Process": (".engine.process", "Process"),
    "ProcessExited": (".errors", "ProcessExited"),
    "ProfileError": (".errors", "ProfileError"),
    "RestartPolicy": (".define.policies", "RestartPolicy"),
    "Scope": (".define.service", "Scope"),
    "ScopeMismatch": (".errors", "ScopeMismatch"),
    "ServiceContext": (".engine.context", "ServiceContext"),
    "ServiceDefinition": (".define.service", "ServiceDefinition"),
    "ServiceError": (".errors", "ServiceError"),
    "ServiceStop": (".engine.stack", "ServiceStop"),
    "Stack": (".engine.stack", "Stack"),
    "StackError": (".errors", "StackError"),
    "StartError": (".errors", "StartError"),
    "StartupCrashed": (".errors", "StartupCrashed"),
    "State": (".engine.lifecycle", "State"),
    "StopError": (".errors", "StopError"),
    "StopPolicy": (".define.policies", "StopPolicy"),
    "UnknownDependency": (".errors", "UnknownDependency"),
    "current": (".engine.context", "current"),
    "liveness": (".define.policies", "liveness"),
    "probe": (".engine", "probes"),
    "restart": (".define.policies", "restart"),
    "service": (".define.service", "service"),
    "spawn": (".engine.process", "spawn"),
    "stop": (".define.policies", "stop"),
    "together": (".engine.together", "together"),
}
"""Public name -> (module, attribute). Loaded on first use (PEP 562), so that `stack --help`,
the watchdog and the launcher import only what they need."""


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'stackfixtures' has no attribute {name!r}") from None
    owner = importlib.import_module(module, __name__)
    try:
        value = getattr(owner, attribute)
    except AttributeError:  # a submodule, e.g. `probe`
        value = importlib.import_module(f"{module}.{attribute}", __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "DefinitionError",
    "DependencyCycle",
    "DependencyFailed",
    "Graph",
    "GraphError",
    "Handle",
    "IllegalTransition",
    "KindUnavailable",
    "LivenessPolicy",
    "ProbeTimeout",
    "Process",
    "ProcessExited",
    "ProfileError",
    "RestartPolicy",
    "Scope",
    "ScopeMismatch",
    "ServiceContext",
    "ServiceDefinition",
    "ServiceError",
    "ServiceStop",
    "Stack",
    "StackError",
    "StartError",
    "StartupCrashed",
    "State",
    "StopError",
    "StopPolicy",
    "UnknownDependency",
    "current",
    "liveness",
    "probe",
    "restart",
    "service",
    "spawn",
    "stop",
    "together",
]
