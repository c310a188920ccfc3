"""The `stack` group loads each command's module only when the command runs: the table of
modules (cli/__init__.py's COMMANDS) must name every command's own module, and SHORT_HELP its
line, or `stack --help` and a command would disagree with what is registered."""

from __future__ import annotations

import importlib
import pkgutil

import click

from stackfixtures import cli
from stackfixtures.cli import COMMANDS, SHORT_HELP, main


def _all_loaded() -> dict[str, click.Command]:
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name != "live" and not info.name.startswith("_"):
            importlib.import_module(f"{cli.__name__}.{info.name}")
    return dict(main.commands)


def test_every_command_is_in_the_table_with_its_module_and_line() -> None:
    registered = _all_loaded()
    assert set(registered) == set(COMMANDS)
    for name, command in registered.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"{cli.__name__}.{COMMANDS[name]}", name
        assert name in SHORT_HELP, f"{name}: no line in SHORT_HELP"


def test_help_lists_every_command_with_its_line_loaded_or_not() -> None:
    ctx = click.Context(main, info_name="stack")
    assert main.list_commands(ctx) == sorted(COMMANDS)
    listed = main.get_help(ctx).split("Commands:")[1]
    for name in COMMANDS:
        assert f"  {name} " in listed and SHORT_HELP[name] in listed, name
    status = main.get_command(ctx, "ps")  # Compose's alias loads its command too
    assert status is not None and status.name == "status"
    assert status.short_help == SHORT_HELP["status"]


def test_a_group_loaded_lazily_gets_its_subcommands_lines() -> None:
    ctx = click.Context(main, info_name="stack")
    bench = main.get_command(ctx, "bench")
    assert isinstance(bench, click.Group)
    assert bench.commands["chaos"].short_help == SHORT_HELP["chaos"]
    export = main.get_command(ctx, "export")
    assert isinstance(export, click.Group)
    assert export.commands["compose"].short_help == SHORT_HELP["compose"]
