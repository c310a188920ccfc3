"""Importing `module:attribute` references written in profiles, relative to the project root."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any


def import_object(ref: str, root: Path | None = None) -> Any:
    """`"package.module:name"` -> the object; the project root is importable first."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{ref!r} is not of the form 'module:attribute'")
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def project_module(name: str, root: Path) -> Path | None:
    """The file of module `name` in the project at `root` (`root/a/b.py` or
    `root/a/b/__init__.py` for `a.b`), or None when the project has none of that name (an
    installed one is meant). Another project's module imported first under the same name (in
    this process) is not it."""
    rel = Path(*name.split("."))
    for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None
