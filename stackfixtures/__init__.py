"""stackfixtures: dependent backend services as pytest-style fixtures.

Write each service once as a generator (`@service`); its parameters name its dependencies, it
yields a handle, and the code after `yield` is its teardown. Run the graph from pytest (every
service is a fixture) or with `stack run`.
"""

from __future__ import annotations

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
from .graph import Graph
from .model import Handle, Scope, ServiceDefinition, StopPolicy, service, stop
from .runtime import probes as probe
from .runtime.context import ServiceContext, current
from .runtime.lifecycle import State
from .runtime.process import Process, spawn
from .runtime.stack import ServiceStop, Stack
from .runtime.together import together
from .supervision import LivenessPolicy, RestartPolicy, liveness, restart

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
