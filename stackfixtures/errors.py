"""Every way stackfixtures fails, as one exception hierarchy.

    StackError
    ├── DefinitionError          wrong before anything starts; fix the code or the profile
    │   ├── ProfileError         a profile file is malformed: every Problem in it, each with its
    │   │                        file:line:column and key path, sorted by position
    │   ├── ServiceDefinitionError  an @service is wrong where it is defined (file:line in name)
    │   ├── GraphError           the service graph is invalid
    │   │   ├── UnknownDependency    a service names a dependency nobody defines
    │   │   ├── DependencyCycle      services depend on each other in a loop
    │   │   └── ScopeMismatch        a wider-scoped service depends on a narrower one
    │   ├── NothingToRun         a command that runs a stack found no service (no profile named)
    │   └── StateDirUnusable     the state dir is not a directory it can write, or cannot be made
    ├── UnsafePath               a fixed-path file or dir (leases, locks, caches) is not ours alone
    ├── ForeignDatabase          a database a template build would drop was not made by us
    ├── IllegalTransition        the engine tried a lifecycle move its table forbids (a bug)
    ├── KindUnavailable          a built-in kind cannot run here (no binary); says how to fix
    ├── NotAStateDir             a directory a stack would use or delete is not a state dir
    ├── UnknownService           an operation named a service the stack does not have
    ├── StateDirBusy             another launcher holds the state dir's lock
    ├── LauncherExited           a launcher started detached exited before its stack was up
    │   └── LauncherBusy             another process holds the state dir's lock: none started
    ├── ServiceFailed            a service failed for good while a detached stack was starting
    ├── ControlError             a running stack refused or failed an operation (its message)
    │   ├── RequestRefused           an argument it cannot take (0 replicas, a bad signal)
    │   ├── NotRunning               no live stack answers for this state dir
    │   ├── ProtocolMismatch         its launcher is another version's: restart the stack
    │   ├── LauncherStuck            the stack's launcher does not answer (stopped or hung)
    │   └── AmbiguousStack           several stacks run and none was chosen (-p / --state-dir)
    └── ServiceError             a service misbehaved; names it and its state, ends with its log
        ├── StartError           it did not become ready
        │   ├── StaleDataDir         its data dir was made with identity settings it no longer has
        │   ├── ProbeTimeout         its readiness probe never passed in time
        │   ├── ProcessExited        its process exited before it was ready
        │   ├── PortInUse            its fixed port is taken, or another process answers there
        │   ├── DependencyFailed     something it depends on failed to start
        │   └── StartupCrashed       its fixture code raised before yielding a handle
        │       └── CommandFailed        a command it ran to completion (a task, initdb) failed
        └── StopError            its teardown raised

Every class here is exported by the package (`stackfixtures.PortInUse`), with `Problem`.
Messages are written for people: they say what happened and what to look at.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._ended import how_it_ended, with_tail
from ._problem import Problem as Problem


class StackError(Exception):
    """Base class of every error stackfixtures raises on purpose."""


class DefinitionError(StackError):
    """The services or the profile are wrong; nothing was started."""


class ProfileError(DefinitionError):
    """A profile is malformed. Carries every problem found (`problems`, sorted by position);
    `file`, `key`, `problem`, `line` and `column` are those of the first."""

    def __init__(
        self,
        file: str,
        key: str,
        problem: str,
        line: int = 0,
        column: int = 0,
        problems: Sequence[Problem] = (),
    ) -> None:
        found = sorted(problems, key=Problem.sort_key) or [
            Problem(file, key, problem, line, column)
        ]
        first = found[0]
        self.problems = found
        self.file, self.key, self.problem = first.file, first.key, first.message
        self.line, self.column = first.line, first.column
        super().__init__("\n".join(str(p) for p in found))

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ProfileError:
        """One error reporting all of `problems` (at least one)."""
        first = problems[0]
        return cls(first.file, first.key, first.message, first.line, first.column, problems)


class ServiceDefinitionError(DefinitionError):
    """@service definitions are wrong; each problem starts with `file:line in NAME`, where the
    service is defined, so the mistake is fixed in the file that holds it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))


class GraphError(DefinitionError):
    """The dependency graph cannot be run."""


class UnknownDependency(GraphError):
    def __init__(self, service: str, dependency: str, known: Sequence[str]) -> None:
        self.service = service
        self.dependency = dependency
        hint = f" (known services: {', '.join(sorted(known))})" if known else ""
        super().__init__(
            f"service {service!r} depends on {dependency!r}, which is not defined{hint}"
        )


class DependencyCycle(GraphError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class ScopeMismatch(GraphError):
    def __init__(self, service: str, scope: str, dependency: str, dep_scope: str) -> None:
        self.service = service
        self.dependency = dependency
        super().__init__(
            f"{scope}-scoped service {service!r} depends on {dep_scope}-scoped {dependency!r}: "
            f"a service cannot outlive what it depends on"
        )


class NothingToRun(DefinitionError):
    """A command that runs a stack found no service at all: most often a profile not named
    (`-p NAME`); the message lists the project's profiles."""


class StateDirUnusable(DefinitionError):
    """The state dir a stack would use is not a directory it can write (a file, a device, a
    read-only place); the message names it and says how to put the state elsewhere."""


class UnsafePath(StackError):
    """A directory or file stackfixtures keeps at a fixed, guessable path (the per-user private
    dir, port leases and their lock, caches) is not ours alone: a symlink, another user's, or
    writable by others. It is refused, never followed; the message names it and what to do."""


class ForeignDatabase(StackError):
    """A database a template build would replace or drop (the template's name, its `_next` or
    `_old`) was not made by stackfixtures (it carries no template mark): refused, nothing
    dropped; the message names it and says to give `template.name` another name."""


class IllegalTransition(StackError):
    """The engine attempted a lifecycle transition its table does not allow. Always a bug."""

    def __init__(self, service: str, source: str, target: str) -> None:
        self.service = service
        super().__init__(f"illegal lifecycle transition for {service!r}: {source} -> {target}")


class KindUnavailable(StackError):
    """A built-in kind cannot run on this machine; the message says how to make it available."""


class NotAStateDir(StackError):
    """A directory given as a stack's state dir is not one: not a directory, a symlink, a
    directory holding other things (a stack would not start there), or one without the
    marker a state dir gets when it is made (nothing deletes it). Also `/`, a home, the
    project or a parent of it, which nothing deletes even with a marker; and a state dir that
    cannot be made (a full disk), with the error."""


class UnknownService(StackError):
    """An operation or a command named a service the stack does not have; lists the ones it
    has (and `hint`, a "did you mean": config.suggest.unknown_service builds both). Not a
    KeyError: an `except KeyError` meant for a missing key must not take a bug for it."""

    def __init__(self, name: str, known: Sequence[str], hint: str = "") -> None:
        self.name = name
        self.known = list(known)
        self.hint = hint
        super().__init__(f"unknown service {name!r} (defined: {', '.join(known) or 'none'}){hint}")


class ControlError(StackError):
    """A running stack answered an operation with an error (`status` is the HTTP status)."""

    def __init__(self, message: str, status: int = 409) -> None:
        self.status = status
        super().__init__(message)


class RequestRefused(ControlError):
    """An operation was asked with an argument the stack cannot take (0 replicas, an unknown
    signal or state); the message says which. The same error whether the stack runs in this
    process or behind its control socket."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 400)


class NotRunning(ControlError):
    """No live stack answers for this state dir (a stale socket, if any, was removed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)


class StateDirBusy(StackError):
    """Another process (a launcher, or a `stack up` starting one) holds the state dir's lock."""

    def __init__(self, state_dir: object, pid: int | None, why: str = "") -> None:
        self.state_dir = state_dir
        self.pid = pid
        by = f" (pid {pid})" if pid else ""
        super().__init__(why or f"another launcher{by} is using state dir {state_dir}")


class LauncherExited(StackError):
    """The launcher ended before its stack was up (or a service failed): its `code` and `tail`."""

    def __init__(self, code: int | None, tail: Sequence[str], message: str) -> None:
        self.code = code
        self.tail = list(tail)
        super().__init__(message)


class LauncherBusy(LauncherExited):
    """Another process holds the state dir's lock (a launcher, or a `stack up` starting one):
    no launcher was started. `pid` is the holder's, when known."""

    def __init__(
        self, code: int | None, tail: Sequence[str], message: str, pid: int | None
    ) -> None:
        self.pid = pid
        super().__init__(code, tail, message)


class ServiceFailed(StackError):
    """A service failed for good (the launcher will not start it again on its own) while the
    stack was starting. `tail`: the error and the service's last lines, passwords masked."""

    def __init__(self, name: str, message: str, tail: Sequence[str]) -> None:
        self.name = name
        self.tail = list(tail)
        super().__init__(message)


class ProtocolMismatch(ControlError):
    """The stack's launcher speaks another control protocol than this `stack` (another
    stackfixtures version started it): only `down` is sent; the message says to restart it."""


class LauncherStuck(ControlError):
    """The launcher of a stack does not answer: stopped (SIGSTOP) or hung (status 504)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 504)


class AmbiguousStack(ControlError):
    """Several stacks of the project run and the command did not say which one."""

    def __init__(self, message: str, state_dirs: Sequence[str]) -> None:
        self.state_dirs = list(state_dirs)
        super().__init__(message, 300)


class ServiceError(StackError):
    """A service failed; the message names it, its state, and ends with its log tail."""

    def __init__(self, service: str, state: str, reason: str, log_tail: Sequence[str] = ()) -> None:
        self.service = service
        self.state = state
        self.reason = reason
        self.log_tail = list(log_tail)
        super().__init__(with_tail(f"service {service!r} ({state}): {reason}", self.log_tail))


class StartError(ServiceError):
    """The service did not become ready."""


class StaleDataDir(StartError):
    """A service's data dir was made with identity settings (a user, a password) that its
    profile no longer has: refused at once, saying how to rebuild it."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(service, "starting", reason)
        self.args = (f"service {service!r}: {reason}",)


class ProbeTimeout(StartError):
    """Its readiness probe never passed: names the probe's target as resolved (`${port}` filled
    in), the last answer it got, and whether the service's process was still running."""

    def __init__(
        self,
        service: str,
        probe: str,
        timeout: float,
        last_error: str,
        log_tail: Sequence[str],
        alive: str = "",
    ) -> None:
        self.probe = probe
        self.timeout = timeout
        self.last_error = last_error
        reason = f"readiness probe {probe} did not pass within {timeout:.3g}s"
        if last_error:
            reason += f" (last attempt: {last_error})"
        if alive:
            reason += f"; {alive}"
        super().__init__(service, "starting", reason, log_tail)


class ProcessExited(StartError):
    def __init__(
        self, service: str, probe: str, returncode: int | None, log_tail: Sequence[str]
    ) -> None:
        self.probe = probe
        self.returncode = returncode
        super().__init__(
            service,
            "starting",
            f"process {how_it_ended(returncode)} before readiness probe {probe} passed",
            log_tail,
        )


class PortInUse(StartError):
    """The service's port is held by another process: found before it started (a fixed port),
    or when its readiness probe was answered by a process that is not the service's own."""

    def __init__(
        self,
        service: str,
        port: int,
        holder: str,
        answered: bool = False,
        log_tail: Sequence[str] = (),
        remedy: str = "stop that process or choose another port",
    ) -> None:
        self.port = port
        self.holder = holder
        who = f" by {holder}" if holder else ""
        if answered:
            reason = (
                f"its readiness probe was answered on port {port}{who}, which is not one of "
                f"this service's processes: {remedy}"
            )
        else:
            reason = f"port {port} is already in use{who}: {remedy}"
        super().__init__(service, "starting", reason, log_tail)


class DependencyFailed(StartError):
    def __init__(self, service: str, dependency: str, cause: BaseException) -> None:
        self.dependency = dependency
        self.cause = cause
        reason = f"dependency {dependency!r} failed to start: {cause}"
        super().__init__(service, "waiting", reason, ())

    def __str__(self) -> str:
        # The dependency's own message already ends with its log tail.
        head = f"service {self.service!r} (waiting): dependency {self.dependency!r} failed"
        return f"{head}: {self.cause}"


class StartupCrashed(StartError):
    """The service's own code raised before it yielded a handle. `trace`: where, as the
    frames of the user's code (`conftest.py:12 in echo: ctx.log("hi")`), shown once."""

    def __init__(
        self,
        service: str,
        state: str,
        reason: str,
        log_tail: Sequence[str] = (),
        trace: Sequence[str] = (),
    ) -> None:
        super().__init__(service, state, reason, log_tail)
        self.trace = list(trace)
        if self.trace:
            head, _, tail = str(self.args[0]).partition("\n")
            frames = "\n".join(f"  at {line}" for line in self.trace)
            self.args = (f"{head}\n{frames}" + (f"\n{tail}" if tail else ""),)


class CommandFailed(StartupCrashed):
    """A command the service ran to completion (a task, initdb) exited with a non-zero code."""

    def __init__(
        self, service: str, command: str, returncode: int | None, log_tail: Sequence[str]
    ) -> None:
        self.command = command
        self.returncode = returncode
        super().__init__(service, "starting", f"{command} {how_it_ended(returncode)}", log_tail)


class StopError(ServiceError):
    """The service's teardown raised."""
