"""A public module's names, written once: its `if TYPE_CHECKING:` block of `from .x import Name
as Name` lines is read (for type checkers and IDEs as it is, at run time by `exports`) and
each name loads on first use (PEP 562), so that `stack --help`, the watchdog and the launcher
import only what they need. The block itself is read only when a public name (or `__all__`,
`dir()`) is first asked for: the import system's probes of private names (`from . import
_engine`) never read it, so the CLI's start pays nothing for it.

    if _typing.TYPE_CHECKING:
        from ._define.service import Handle as Handle
        from ._engine import probes as _probes

        probe = _probes

    if not _typing.TYPE_CHECKING:
        __getattr__, __dir__ = _lazy.public(__name__, __file__, globals())

(`_typing`, `_lazy`: the module's own names are private, so that its public names are exactly
`__all__`.)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

Exports = dict[str, tuple[str, str]]
"""Public name -> (module relative to the package, attribute)."""


def exports(source: Path) -> Exports:
    """The names `source`'s `if TYPE_CHECKING:` block exports, in the order written: each
    `from .module import X as X`, and each `Y = _x` after a `from .module import X as _x` (a
    public name other than the one it has where it is defined: type checkers count only
    `X as X` and assigned names as re-exported). Anything else in the block is a mistake."""
    import ast  # (only when a public name is first asked for)

    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    found: Exports = {}
    hidden: Exports = {}
    for block in tree.body:
        if not isinstance(block, ast.If) or not isinstance(block.test, ast.Name | ast.Attribute):
            continue
        if ast.unparse(block.test).rpartition(".")[2] != "TYPE_CHECKING":
            continue
        for line in block.body:
            where = f"{source}:{line.lineno}"
            if isinstance(line, ast.ImportFrom) and line.level > 0:
                module = "." * line.level + (line.module or "")
                for alias in line.names:
                    name = alias.asname or ""
                    if name.startswith("_"):
                        hidden[name] = (module, alias.name)
                    elif name == alias.name and name not in found:
                        found[name] = (module, alias.name)
                    else:
                        raise ImportError(f"{where}: write `{alias.name} as {alias.name}`")
            elif (
                isinstance(line, ast.Assign)
                and len(line.targets) == 1
                and isinstance(target := line.targets[0], ast.Name)
                and isinstance(line.value, ast.Name)
                and line.value.id in hidden
                and not target.id.startswith("_")
                and target.id not in found
            ):
                found[target.id] = hidden[line.value.id]
            else:
                raise ImportError(f"{where}: only `from .module import X as X` (`as _x`: `Y = _x`)")
    return found


def public(
    package: str, source: str, namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` of the module `package` whose file is `source` and whose
    globals are `namespace`: its public names, `__all__` among them, are those of its
    TYPE_CHECKING block, read the first time one is asked for."""
    anchor = namespace["__package__"] or package
    read: list[Exports] = []

    def table() -> Exports:
        if not read:
            read.append(exports(Path(source)))
        return read[0]

    def resolve(name: str) -> Any:
        if name == "__all__":
            value: Any = list(table())
        else:
            if name.startswith("_") or name not in table():  # (private: never read for)
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            module, attribute = table()[name]
            owner = importlib.import_module(module, anchor)
            try:
                value = getattr(owner, attribute)
            except AttributeError:  # a submodule its package does not import, e.g. `probe`
                value = importlib.import_module(f"{module}.{attribute}", anchor)
        namespace[name] = value
        return value

    def listing() -> list[str]:
        return sorted({*namespace, *table(), "__all__"})

    return resolve, listing
