"""stackfixtures: dependent backend services as pytest-style fixtures.

Write each service once as a generator (`@service`); its parameters name its dependencies, it
yields a handle, and the code after `yield` is its teardown. Run the graph from pytest (every
service is a fixture) or with `stack run`.
"""

import typing as _typing

from . import _lazy as _lazy

if _typing.TYPE_CHECKING:  # the public names, each once: read by type checkers and `_lazy.public`
    from ._define.graph import Graph as Graph
    from ._define.policies import LivenessPolicy as LivenessPolicy
    from ._define.policies import RestartPolicy as RestartPolicy
    from ._define.policies import StopPolicy as StopPolicy
    from ._define.policies import liveness as liveness
    from ._define.policies import restart as restart
    from ._define.policies import stop as stop
    from ._define.service import Handle as Handle
    from ._define.service import Scope as Scope
    from ._define.service import ServiceDefinition as ServiceDefinition
    from ._define.service import service as service
    from ._engine import probes as _probes
    from ._engine.context import ServiceContext as ServiceContext
    from ._engine.context import current as current
    from ._engine.lifecycle import State as State
    from ._engine.process import Process as Process
    from ._engine.process import spawn as spawn
    from ._engine.side_by_side import together as together
    from ._engine.stack import ServiceStop as ServiceStop
    from ._engine.stack import Stack as Stack
    from .errors import AmbiguousStack as AmbiguousStack
    from .errors import CommandFailed as CommandFailed
    from .errors import ControlError as ControlError
    from .errors import DefinitionError as DefinitionError
    from .errors import DependencyCycle as DependencyCycle
    from .errors import DependencyFailed as DependencyFailed
    from .errors import ForeignDatabase as ForeignDatabase
    from .errors import GraphError as GraphError
    from .errors import IllegalTransition as IllegalTransition
    from .errors import KindUnavailable as KindUnavailable
    from .errors import LauncherBusy as LauncherBusy
    from .errors import LauncherExited as LauncherExited
    from .errors import LauncherStuck as LauncherStuck
    from .errors import NotAStateDir as NotAStateDir
    from .errors import NothingToRun as NothingToRun
    from .errors import NotRunning as NotRunning
    from .errors import PortInUse as PortInUse
    from .errors import ProbeTimeout as ProbeTimeout
    from .errors import Problem as Problem
    from .errors import ProcessExited as ProcessExited
    from .errors import ProfileError as ProfileError
    from .errors import ProtocolMismatch as ProtocolMismatch
    from .errors import RequestRefused as RequestRefused
    from .errors import ScopeMismatch as ScopeMismatch
    from .errors import ServiceDefinitionError as ServiceDefinitionError
    from .errors import ServiceError as ServiceError
    from .errors import ServiceFailed as ServiceFailed
    from .errors import StackError as StackError
    from .errors import StaleDataDir as StaleDataDir
    from .errors import StartError as StartError
    from .errors import StartupCrashed as StartupCrashed
    from .errors import StateDirBusy as StateDirBusy
    from .errors import StateDirUnusable as StateDirUnusable
    from .errors import StopError as StopError
    from .errors import UnknownDependency as UnknownDependency
    from .errors import UnknownService as UnknownService
    from .errors import UnsafePath as UnsafePath

    probe = _probes  # `sf.probe.tcp(...)`

if not _typing.TYPE_CHECKING:  # (so that a name not above is a type checker's error)
    __getattr__, __dir__ = _lazy.public(__name__, __file__, globals())
