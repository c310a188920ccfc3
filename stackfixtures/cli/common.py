"""What every `stack` subcommand shares: the command group, options, exit codes, loading."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .._control.exits import EXIT_DEFINITION, EXIT_INTERRUPTED, EXIT_NOT_RUNNING, EXIT_STARTUP

if TYPE_CHECKING:
    from .. import _project as projects
    from .._control.remote import RemoteControl


ALIASES = {"ps": "status"}
"""Docker Compose's names for our commands, accepted as typed."""


class Commands(click.Group):
    """The `stack` group (and its groups, e.g. `bench`): Compose's aliases, a "did you mean"
    for a mistyped command, and commands loaded lazily: `modules` names the module of cli/
    that registers each command (importing it registers them on this group), imported only
    when that command runs, so that `stack status` imports what status needs and `stack
    --help` none of them (it lists each command's line of `short`)."""

    group_class = type  # `stack bench` is one too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modules: dict[str, str] = {}
        self.short: dict[str, str] = {}

    def lazily(self, modules: dict[str, str], short: dict[str, str]) -> None:
        """Commands `modules` names (command -> module of cli/) load when first asked for;
        `short`: the one line `--help` lists for each ("GROUP NAME" for a subcommand)."""
        self.modules, self.short = modules, short

    def aliases(self, ctx: click.Context) -> dict[str, str]:
        return ALIASES if ctx.parent is None else {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.modules})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = self.aliases(ctx).get(cmd_name, cmd_name)
        if name not in self.commands and name in self.modules:
            importlib.import_module(f"{__package__}.{self.modules[name]}")
        command = super().get_command(ctx, name)
        if command is not None:
            self._shorten(command)
        return command

    def _shorten(self, command: click.Command, group: str = "") -> None:
        """The command's (and its subcommands') line in `--help`, from `short`."""
        found = self.short.get(f"{group} {command.name}", self.short.get(command.name or ""))
        command.short_help = found or command.short_help
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                self._shorten(sub, command.name or "")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them, each with its line of `short` (so that `--help` imports no
        command's module)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        rows = []
        for name in names:
            line = self.short.get(name)
            if line is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                line = command.get_short_help_str(limit)
            rows.append((name, line))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from .._config.suggest import did_you_mean

            known = [*self.list_commands(ctx), *self.aliases(ctx)]
            ctx.fail(f"no such command {name!r}{did_you_mean(name, known)}")
        found = super().resolve_command(ctx, args)
        if found[1] is None or found[1].name != "run":  # (its launcher does, at its first spawn)
            from .. import _startup

            _startup.release()  # the collector held since the script began: _startup.py
        return found


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stackfixtures")
def main() -> None:
    """Start a backend of dependent services in order, and stop it in reverse.

    Services are pytest-style fixtures (or profile entries); the same graph runs under pytest.
    Exit codes: 0 all graceful, 1 some stop forced, 2 invalid profile or usage, 3 startup
    failed, 4 no running stack, 130 interrupted before ready.
    """


profile_option = click.option(
    "--profile",
    "-p",
    "profile",
    default=None,
    envvar="STACK_PROFILE",
    help="Profile name (profiles/NAME.toml under the project root) or a path to a TOML file "
    "[env: STACK_PROFILE].",
)

state_dir_option = click.option(
    "--state-dir",
    default=None,
    envvar="STACK_STATE_DIR",
    help="Where the stack keeps data, logs and events (default: .stack/PROFILE under the root) "
    "[env: STACK_STATE_DIR].",
)


def stack_options(fn: Any) -> Any:
    """`--profile` and `--state-dir`: which running stack a command is about."""
    return profile_option(state_dir_option(fn))


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (JSON)."
)

MAX_SECONDS = 7 * 24 * 3600
SECONDS = click.FloatRange(0, MAX_SECONDS, min_open=True)
"""A `--timeout` in seconds: greater than 0, at most a week (a negative or absurd wait is a
mistake, refused with exit 2 before anything starts)."""


def chosen(
    profile: str | None, state_dir: str | None, say: bool = False
) -> tuple[str | None, str | None]:
    """The profile (and state dir) a command that loads the project means: the one named,
    else the obvious one (_config/choose.py), else the only running stack's; (None, ...) for
    conftest.py's services alone. With `say`, a profile not named on the command line is
    named on stderr, with why (`up`, `run`: what starts is never a surprise)."""
    from .._config.choose import choose
    from .._config.locate import find_root

    root = find_root()
    choice = choose(root, profile)
    if choice is not None:
        if say and not profile:
            click.echo(f"[stack] profile {choice.profile} ({choice.why})", err=True)
        return choice.profile, state_dir
    if state_dir is None:
        from .._control.discover import running_profile

        found = running_profile(root)
        if found is not None:
            if say:
                click.echo(f"[stack] profile {found[0]} (the only stack running)", err=True)
            return found[0], str(found[1])
    return None, state_dir


def load_or_exit(
    profile: str | None,
    state_dir: str | None = None,
    as_json: bool = False,
    writes_state: bool = True,
    programs: bool = False,
    cache: bool = False,
) -> projects.Project:
    """The project for a profile, or exit 2 with the file and key of the problem. With
    `writes_state` (a command that starts a stack, or `validate`), also exit 2 when its state
    dir cannot be written (_project/places.py), saying where it could go; with `programs`
    (`validate`), when a program its services run is not there (_project/programs.py). `cache`:
    a start may take the profile's compiled form (_project/compiled.py)."""
    from .. import _project as projects
    from .._project import places
    from .._project import programs as runs
    from ..errors import DefinitionError, ProfileError

    profile, state_dir = chosen(profile, state_dir)
    try:
        where = Path(state_dir).resolve() if state_dir else None
        proj = projects.load(profile, state_dir=where, cache=cache)
        proj.check_not_empty()
        if writes_state:
            places.check(proj.state_dir)
        if programs:
            runs.check(proj, proj.selected)
        return proj
    except DefinitionError as e:
        if as_json:
            error: dict[str, object] = {"ok": False, "error": str(e)}
            if isinstance(e, ProfileError):
                error.update(file=e.file, key=e.key)
            problems = getattr(e, "problems", None)
            if problems:
                error["problems"] = [
                    {
                        "file": p.file,
                        "line": p.line or None,
                        "column": p.column or None,
                        "key": p.key,
                        "service": p.service or None,
                        "message": p.message,
                    }
                    for p in problems
                ]
            import json

            click.echo(json.dumps(error))
        else:
            from .._control.console import error_text

            click.echo(error_text(e), err=True)
        sys.exit(EXIT_DEFINITION)


@contextlib.contextmanager
def control_for(
    profile: str | None,
    state_dir: str | None,
    when_stopped: Callable[[], bool] | None = None,
) -> Iterator[RemoteControl]:
    """The running stack a command means (see _control/discover.py), never importing the
    project's code; exits 4 when none runs (unless `when_stopped` could do the command
    without it: then 0) and 2 when several do and none was chosen."""
    from .._control.discover import state_dir_for
    from .._control.remote import connect

    try:
        control = connect(state_dir_for(profile, state_dir))
    except Exception as e:
        _exit_not_connected(e, when_stopped)
        raise
    try:
        yield control
    except Exception as e:
        _exit_refused(e, control)
        raise
    finally:
        control.close()


# The two handlers below import errors.py when an error is there to handle: a command that
# succeeds never pays for the exception hierarchy (a tenth of `stack status`'s own start-up).


def _exit_not_connected(e: Exception, when_stopped: Callable[[], bool] | None) -> None:
    """Exit as a failed connection to the running stack warrants (returns if `e` is none)."""
    from ..errors import AmbiguousStack, DefinitionError, LauncherStuck, NotRunning

    if isinstance(e, LauncherStuck):  # stopped (SIGSTOP) while it starts: named, not waited for
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if isinstance(e, NotRunning):
        if when_stopped is not None and when_stopped():
            sys.exit(0)
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_NOT_RUNNING)
    if isinstance(e, AmbiguousStack | DefinitionError):
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)


def _exit_refused(e: Exception, control: RemoteControl) -> None:
    """Exit as a request the running stack failed warrants (returns if `e` is none)."""
    from ..errors import ControlError, StackError, StartError

    if isinstance(e, ControlError):
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION if e.status < 500 else 1)
    if isinstance(e, StartError):  # `stack start` or `restart` of a service that did not come up
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_STARTUP)
    if isinstance(e, StackError):  # an unknown service; pausing a service that runs no process
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)
    if isinstance(e, TimeoutError):
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if isinstance(e, OSError):  # its launcher went away meanwhile (e.g. `stack down` elsewhere)
        from .._control.console import went_away

        click.echo(went_away(control.endpoint.state_dir), err=True)
        sys.exit(EXIT_NOT_RUNNING)


def interrupted() -> NoReturn:
    """Ctrl-C while a command waited for its stack to start (which has been stopped)."""
    click.echo("interrupted: the stack was stopped", err=True)
    sys.exit(EXIT_INTERRUPTED)


def check_names(names: Iterable[str], known: list[str]) -> None:
    """Exit 2 naming the first of `names` that is no service of the stack."""
    unknown = [n for n in names if n not in known]
    if unknown:
        from .._config.suggest import unknown_service

        click.echo(f"error: {unknown_service(unknown[0], known)}", err=True)
        sys.exit(EXIT_DEFINITION)


def check_state_dir(path: Path) -> None:
    """Exit 2, saying why, unless a stack may use `path` as its state dir (a marked one, or
    missing, empty or an older version's, which its launcher marks): only then may a command
    remove a file in it before its launcher starts."""
    from .._engine import state_dirs
    from ..errors import NotAStateDir

    try:
        state_dirs.check(path)
    except NotAStateDir as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_DEFINITION)


def failed_to_start(tail: list[str]) -> None:
    """What a launcher that stopped before its stack was up said, quoted."""
    click.echo(
        "error: the stack failed to start; its launcher said:\n"
        + "\n".join(f"  | {line}" for line in tail),
        err=True,
    )
