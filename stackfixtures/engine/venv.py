"""Commands a stack runs find this environment's programs first, as under `uv run` or
`poetry run`: `python` in a profile, `pytest` in `stack exec -- pytest`, when `stack` (or
pytest) runs from a virtualenv that was not activated."""

from __future__ import annotations

import os
import sys


def own_bin_first(env: dict[str, str]) -> dict[str, str]:
    """`env` with this interpreter's virtualenv `bin` first on PATH (unchanged outside one,
    or when it is on PATH already)."""
    if sys.prefix == sys.base_prefix:
        return env
    own = os.path.join(sys.prefix, "bin")
    path = env.get("PATH", os.defpath)
    if own not in path.split(os.pathsep):
        env["PATH"] = own + os.pathsep + path
        env.setdefault("VIRTUAL_ENV", sys.prefix)
    return env
