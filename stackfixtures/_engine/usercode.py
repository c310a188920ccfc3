"""Exceptions raised by a service's own code, told by the frames of that code: the file and
line of each call of the user's, without the engine's, asyncio's or libraries' frames."""

from __future__ import annotations

import os
import sysconfig
import traceback
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep
_LIBRARIES = tuple(
    str(Path(p).resolve()) + os.sep
    for p in {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)
MAX_FRAMES = 8


def _is_user(filename: str) -> bool:
    if filename.startswith("<frozen "):  # importlib's own frames
        return False
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not path.startswith(_PACKAGE) and not path.startswith(_LIBRARIES)


def _shown(filename: str, root: Path | None) -> str:
    if root is not None:
        try:
            return str(Path(filename).resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return filename


def user_frames(error: BaseException, root: Path | None = None) -> list[str]:
    """`file:line in function: source line` for each frame of the user's code in `error`'s
    traceback (innermost last; at most MAX_FRAMES), else the frame that raised it."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if _is_user(f.filename)] or frames[-1:]
    out = []
    for f in mine[-MAX_FRAMES:]:
        code = f" {f.line.strip()}" if f.line else ""
        out.append(f"{_shown(f.filename, root)}:{f.lineno} in {f.name}:{code}")
    return out
