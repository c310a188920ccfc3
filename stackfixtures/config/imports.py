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
