"""The `stack` console script: the CLI, its imports made with the garbage collector held
(_startup.py), which is why it is not `stackfixtures.cli:main` itself."""

from __future__ import annotations

from ._startup import hold, release


def stack() -> None:
    hold()
    try:
        from .cli import main

        main()
    finally:
        release()
