"""Where the programs a stack runs come from: `python` in a profile, `pytest` in
`stack exec -- pytest`. First the activated virtualenv (`VIRTUAL_ENV`: the project's), then the
one `stack` (or pytest) runs from, as under `uv run` or `poetry run` when it was not activated,
then the rest of PATH."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping

_PYTHON = re.compile(r"^python[0-9.]*$")


def venv_bins(env: Mapping[str, str]) -> list[str]:
    """The `bin` directories searched before PATH, first first: the activated virtualenv's
    (when it exists) and this interpreter's, when it runs from a virtualenv."""
    bins: list[str] = []
    active = env.get("VIRTUAL_ENV")
    if active and os.path.isdir(os.path.join(active, "bin")):
        bins.append(os.path.join(os.path.abspath(active), "bin"))
    if sys.prefix != sys.base_prefix:
        bins.append(os.path.join(sys.prefix, "bin"))
    return list(dict.fromkeys(bins))


def own_bin_first(env: dict[str, str]) -> dict[str, str]:
    """`env` with PATH searching the activated virtualenv, then this interpreter's, then the
    rest of PATH (each directory once). VIRTUAL_ENV names the virtualenv searched first."""
    bins = venv_bins(env)
    if not bins:
        return env
    rest = [d for d in env.get("PATH", os.defpath).split(os.pathsep) if d not in bins]
    env["PATH"] = os.pathsep.join([*bins, *rest])
    if not env.get("VIRTUAL_ENV"):
        env["VIRTUAL_ENV"] = os.path.dirname(bins[0])
    return env


def foreign_python(program: str, env: Mapping[str, str]) -> str | None:
    """Where `program` (looked up on env's PATH) is found, when it is a Python program (an
    interpreter, or a script whose `#!` names one) that runs with a Python from neither
    directory of venv_bins, i.e. with another Python's packages. None otherwise (and when no
    virtualenv is in play at all: then every Python is the system's, as expected)."""
    bins = venv_bins(env)
    if not bins:
        return None
    path = env.get("PATH")
    found = program if "/" in program else shutil.which(program, path=path)
    if found is None:
        return None
    python = _interpreter(found, path)
    if python is None or os.path.dirname(os.path.abspath(python)) in bins:
        return None
    return found


def _interpreter(program: str, path: str | None) -> str | None:
    """The Python `program` runs with: itself when it is one (or a pyenv shim), else the one
    its `#!` line names (through PATH for `#!/usr/bin/env python3`); None for anything else."""
    if _PYTHON.match(os.path.basename(program)):
        return program
    try:
        with open(program, "rb") as f:
            head = f.read(2048)
    except OSError:
        return None
    if os.path.basename(os.path.dirname(program)) == "shims" and b"pyenv" in head:
        return program  # pyenv's shim: a Python that pyenv picks, never a virtualenv's
    first = head.split(b"\n", 1)[0]
    if not first.startswith(b"#!"):
        return None
    words = [w for w in first[2:].decode(errors="replace").split() if not w.startswith("-")]
    if words and os.path.basename(words[0]) == "env" and len(words) > 1:
        words = [shutil.which(words[1], path=path) or words[1]]
    if words and _PYTHON.match(os.path.basename(words[0])):
        return words[0]
    return None
