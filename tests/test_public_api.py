"""The public surface: `stackfixtures` and `stackfixtures.kind_api` export exactly their
`__all__` (written once, in their TYPE_CHECKING blocks) and every name imports; the whole
error tree is exported; `UnknownService` is no KeyError; a Handle's hash agrees with its
equality."""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import stackfixtures
import stackfixtures.errors as errors
from stackfixtures import Handle, StackError
from stackfixtures._control.exits import EXIT_DEFINITION

from .cli_helpers import run_stack
from .conftest import write_project

PUBLIC = ("stackfixtures", "stackfixtures.kind_api")


def public_attributes(module: types.ModuleType) -> set[str]:
    """The module's public names, its own submodules left out (the import system sets those;
    pytest's assertion rewriting adds `@py_builtins`, which no code can name)."""
    return {
        name
        for name, value in vars(module).items()
        if name.isidentifier()
        and not name.startswith("_")
        and not (
            isinstance(value, types.ModuleType)
            and value.__name__ == f"stackfixtures.{name}"
            and name not in module.__all__
        )
    }


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_exactly_what_the_module_exports_and_every_name_imports(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), "a name listed twice"
    for attribute in names:
        assert getattr(module, attribute) is not None, attribute
    assert public_attributes(module) == set(names)
    assert set(names) <= set(dir(module))
    star: dict[str, object] = {}
    exec(f"from {name} import *", star)
    assert {n for n in star if n.isidentifier() and not n.startswith("__")} == set(names)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        module.Nope  # noqa: B018


def test_kind_api_documents_every_name_it_exports() -> None:
    import stackfixtures.kind_api as kind_api

    documented = set(re.findall(r"\w+", kind_api.__doc__ or ""))
    assert [n for n in kind_api.__all__ if n not in documented] == []


def walk(cls: type) -> Iterator[type]:
    yield cls
    for sub in cls.__subclasses__():
        yield from walk(sub)


def test_the_whole_error_tree_is_exported_and_drawn() -> None:
    tree = {c for c in walk(StackError) if c.__module__.startswith("stackfixtures")}
    assert len(tree) > 30
    for cls in tree:
        assert cls.__module__ == "stackfixtures.errors", f"{cls} lives outside errors.py"
        assert getattr(stackfixtures, cls.__name__) is cls, cls.__name__
        assert cls.__name__ in stackfixtures.__all__
        drawn = "    StackError\n" if cls is StackError else f"── {cls.__name__} "
        assert drawn in (errors.__doc__ or ""), f"{cls.__name__} is not in errors.py's tree"
    assert stackfixtures.Problem is errors.Problem


def test_unknown_service_is_no_key_error() -> None:
    e = errors.UnknownService("nope", ["web"], " (did you mean 'web'?)")
    assert not isinstance(e, KeyError)
    assert str(e) == "unknown service 'nope' (defined: web) (did you mean 'web'?)"


IDLE = """
[services.idle]
command = ["{PY}", "-c", "import time; time.sleep(600)"]
"""


@pytest.mark.slow
def test_the_cli_reports_unknown_services_but_not_a_key_error_from_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stackfixtures.cli.common import control_for

    write_project(tmp_path, IDLE)
    up = run_stack(["up", "-p", "dev"], tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    monkeypatch.chdir(tmp_path)
    try:
        with pytest.raises(SystemExit) as exit, control_for("dev", None) as control:
            control.state("idel")
        assert exit.value.code == EXIT_DEFINITION
        assert "error: unknown service 'idel' (defined: idle)" in capsys.readouterr().err
        with pytest.raises(KeyError, match="a bug"), control_for("dev", None):
            raise KeyError("a bug")  # a traceback, not "unknown service"
    finally:
        down = run_stack(["down", "-p", "dev"], tmp_path)
    assert down.returncode == 0, down.stdout + down.stderr


def test_a_handle_hashes_as_it_compares() -> None:
    a, b = Handle(url="redis://h:1/0", env={"A": "1"}), Handle(url="redis://h:1/0", env={"A": "1"})
    assert a == b and a != Handle(url="redis://h:1/1") and a != {"url": "redis://h:1/0"}
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)  # equal by value and mutable: no hash (an identity hash let a set keep both)
    with pytest.raises(TypeError):
        {a, b}  # noqa: B018


@pytest.mark.parametrize(
    "line",
    [
        "from .errors import StackError",  # not re-exported for type checkers
        "from .errors import StackError as Error",  # ditto: another name needs `Error = _x`
        "import json",  # not a name of the package's
        "Error = StackError",  # an alias of nothing the block hid
    ],
)
def test_a_public_name_not_written_as_exported_is_refused(tmp_path: Path, line: str) -> None:
    from stackfixtures import _lazy as lazy

    module = tmp_path / "module.py"
    module.write_text(f"if TYPE_CHECKING:\n    from .define import graph as graph\n    {line}\n")
    with pytest.raises(ImportError, match=f"{module}:3: "):
        lazy.exports(module)
    module.write_text(
        "if TYPE_CHECKING:\n    from .errors import StackError as _E\n\n    Error = _E\n"
        "if not TYPE_CHECKING:\n    x = 1\n"
    )
    assert lazy.exports(module) == {"Error": (".errors", "StackError")}


def test_kind_api_gives_what_every_kind_calls() -> None:
    """`options_of` (every kind reads its options with it) is the kind author's API, the one
    the built-in kinds and README's example import; `kinds.options_of` is the same function."""
    import stackfixtures.kind_api as kind_api
    from stackfixtures import kinds

    assert "options_of" in kind_api.__all__
    assert kinds.options_of is kind_api.options_of
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert (
        "from stackfixtures.kind_api import Container, ContainerProbe, data_container, options_of"
        in readme
    )
