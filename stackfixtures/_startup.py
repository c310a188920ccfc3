"""Python's cyclic garbage collector, held off while a `stack` process imports what it runs.

A start imports some 400 modules, which make some 40,000 objects the collector tracks and
none of which is garbage: its passes over them cost a launcher ~15-30 ms before its first
spawn (measured: the CLI's, launcher's and kinds' imports in 175 ms with it, 155 ms without).
`hold` (first, in the `stack` console script, _script.py, and `python -m
stackfixtures._launcher`) turns it off; `release` freezes what the start made (moved out of
the collector's sight for good: the process keeps it to its end) and turns it on again. It is
released before any command runs but `stack run`, whose launcher releases it at its first
spawn (_launcher/running.py), or before its live view. Only a hold is released: a process
that never held it (a pytest session, a program importing stackfixtures) is never touched.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
