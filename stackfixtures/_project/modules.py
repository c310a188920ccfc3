"""The stack's `@service` modules (`[stack] modules`, or the root's `conftest.py`), imported,
and the definitions bound in them (what `load` and a compiled profile's start both read)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .._define.service import ServiceDefinition
from ..errors import DefinitionError


@dataclass(frozen=True)
class FromModules:
    """The modules a load imported (named as the profile names them, or the root's
    `conftest.py`) and the `@service` definitions found in them."""

    names: list[str]
    definitions: dict[str, ServiceDefinition]

    def files(self, root: Path) -> list[str]:
        """Their source files (a module imported by name: the file it was imported from)."""
        out = []
        for name in self.names:
            if name.endswith(".py") or "/" in name:
                out.append(str((root / name).resolve()))
            elif (file := getattr(sys.modules.get(name), "__file__", None)) is not None:
                out.append(str(file))
        return out


def _import(name: str, root: Path) -> ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if name.endswith(".py") or "/" in name:
        path = (root / name).resolve()
        mod_name = path.stem
        existing = sys.modules.get(mod_name)
        if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
            return existing
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:  # (as `import` does: a module that failed is not kept half-made)
            if sys.modules.get(mod_name) is module:
                del sys.modules[mod_name]
            raise
        return module
    return importlib.import_module(name)


def collect(modules: list[ModuleType]) -> dict[str, ServiceDefinition]:
    """Every ServiceDefinition bound at module level, by service name."""
    found: dict[str, ServiceDefinition] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, ServiceDefinition):
                continue
            other = found.get(value.name)
            if other is not None and other.function is not value.function:
                raise DefinitionError(
                    f"two services are named {value.name!r}: {other.source} and {value.source}"
                )
            found[value.name] = value
    return found


def _import_failure(name: str, e: BaseException, root: Path) -> str:
    """Why a service module could not be imported, with where in the user's code."""
    from .._engine.usercode import user_frames

    text = f"cannot import service module {name!r}: {type(e).__name__}: {e}"
    if isinstance(e, SyntaxError) and e.filename:
        return text  # its message names the file and line already
    frames = user_frames(e, root)
    return text + "".join(f"\n  at {f}" for f in frames[-3:])


def definitions_from_modules(
    names: list[str] | None,
    root: Path,
    fresh: bool = False,
    failed: Callable[[int, str], None] | None = None,
) -> dict[str, ServiceDefinition]:
    """Definitions from the named modules; `fresh` re-imports them (a running launcher that is
    asked to pick up edited code). A module that cannot be imported raises DefinitionError,
    or with `failed` is reported to it (its index, why) and skipped."""
    if names is None:
        names = ["conftest.py"] if (root / "conftest.py").is_file() else []
    modules = []
    for i, name in enumerate(names):
        try:
            module = _import(name, root)
            modules.append(importlib.reload(module) if fresh else module)
        except Exception as e:  # the user's code: any mistake in it, said where it is
            if failed is None:
                raise DefinitionError(_import_failure(name, e, root)) from None
            failed(i, _import_failure(name, e, root))
    return collect(modules)
