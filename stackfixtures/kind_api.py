"""What a kind is written with: the public API for kind authors, built-in and third-party.

The built-in kinds (`stackfixtures/kinds/`) import only this module, `stackfixtures.errors`
and each other (import-linter checks it: pyproject's `[tool.importlinter]`), so whatever they
need to run a service is here, public and documented, for any other kind too. The `Kind` that
describes a kind, and the registry, are in `stackfixtures.kinds`.

Writing the service
    service, Handle, ServiceDefinition, ServiceFunction, ServiceContext, current, stop
    (a StopPolicy),
    options_of (its options, typed: validated once by its kind's model), plain_options (the
    same as plain data, without the model: what a compiled profile keeps), model_of (a
    definition's model, given as the class or as "module:Class"), OptionsView (plain options
    read as the model is: `OptionsView.of(definition).port`, nested tables, `.items()`)
Running its processes
    spawn (a long-running process), run_once (a command to completion), Process,
    allocate_port (a free port, leased so parallel stacks do not take the same one)
Telling when it is ready
    probes (tcp, http, grpc, exec, log, call, all_; the module users know as `sf.probe`, named
    for the module here, since a kind's code holds a `probe` of its own), Probe, wait_ready
Options a profile sets on it (pydantic field types, checked as the profile's own keys)
    Argv, Text, Count, Seconds, checked_table (a model of probe keys, e.g. a `ready = {...}`
    table from `probes.registry.fields()`), ProbeTable (such a table as written, unchecked)
Its container, for `stack export`
    Container, ContainerProbe, data_container
Files it keeps (private to the user: 0700 dirs, 0600 files; never through a link)
    private_dir, private_file, private_files (write, open_append), user_tmp, state_subdir,
    home_for, linked_home, made_home, owner_of, OWNER (a service's data kept outside its state
    dir: named for the state dir, with a record of its owner)
Containers it runs (labelled with the stack; removed by the watchdog or a sweep if the launcher
dies: its engine recorded first)
    container_labels (a ServiceContext's labels), stack_labels (the stack's alone: for what its
    services share, a network), record_engine (ctx, the engine's URL)
Owning its tasks (every task awaited by its owner; a cancellation never swallowed)
    cancel_and_wait (cancel tasks and await them), cancel_and_wait_out (and await others to
    their end, uncancelled, e.g. a thread's work), to_the_end (one coroutine's result, run to
    its end even when the caller is cancelled, with an undo then)
Code it imports or runs on a project's behalf
    import_object ("module:attr" from the project), project_module, set_current (run code as
    a service whose context is given, e.g. a task run against a template)
"""

import typing as _typing

from . import _lazy as _lazy

if _typing.TYPE_CHECKING:  # the public names, each once: read by type checkers and `_lazy.public`
    from ._config.imports import import_object as import_object
    from ._config.imports import project_module as project_module
    from ._config.schema import Argv as Argv
    from ._config.schema import Count as Count
    from ._config.schema import ProbeTable as ProbeTable
    from ._config.schema import Seconds as Seconds
    from ._config.schema import Text as Text
    from ._config.schema import checked_table as checked_table
    from ._define.container import Container as Container
    from ._define.container import ContainerProbe as ContainerProbe
    from ._define.container import data_container as data_container
    from ._define.options import OptionsView as OptionsView
    from ._define.options import model_of as model_of
    from ._define.options import options_of as options_of
    from ._define.options import plain_options as plain_options
    from ._define.policies import StopPolicy as StopPolicy
    from ._define.policies import stop as stop
    from ._define.service import Handle as Handle
    from ._define.service import ServiceDefinition as ServiceDefinition
    from ._define.service import ServiceFunction as ServiceFunction
    from ._define.service import service as service
    from ._engine import private_files as private_files
    from ._engine import probes as probes
    from ._engine.cleanup.containers import labels as _labels
    from ._engine.cleanup.containers import record_engine as record_engine
    from ._engine.cleanup.containers import stack_labels as stack_labels
    from ._engine.context import ServiceContext as ServiceContext
    from ._engine.context import current as current
    from ._engine.context import set_current as set_current
    from ._engine.ports import allocate_port as allocate_port
    from ._engine.private_dirs import private_dir as private_dir
    from ._engine.private_dirs import private_file as private_file
    from ._engine.private_dirs import user_tmp as user_tmp
    from ._engine.probes import Probe as Probe
    from ._engine.probes import wait_ready as wait_ready
    from ._engine.process import Process as Process
    from ._engine.process import run_once as run_once
    from ._engine.process import spawn as spawn
    from ._engine.state_dirs import subdir as _subdir
    from ._engine.state_homes import OWNER as OWNER
    from ._engine.state_homes import home_for as home_for
    from ._engine.state_homes import linked_home as linked_home
    from ._engine.state_homes import made_home as made_home
    from ._engine.state_homes import owner_of as owner_of
    from ._engine.tasks import cancel_and_wait as cancel_and_wait
    from ._engine.tasks import cancel_and_wait_out as cancel_and_wait_out
    from ._engine.tasks import to_the_end as to_the_end

    state_subdir = _subdir
    container_labels = _labels

if not _typing.TYPE_CHECKING:  # (so that a name not above is a type checker's error)
    __getattr__, __dir__ = _lazy.public(__name__, __file__, globals())
