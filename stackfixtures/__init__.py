"""stackfixtures: dependent backend services as pytest-style fixtures.

Write each service once as a generator (`@service`); its parameters name its dependencies, it
yields a handle, and the code after `yield` is its teardown. Run the graph from pytest (every
service is a fixture) or with `stack run`.
"""

from __future__ import annotations

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
