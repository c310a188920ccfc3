"""A container's volumes: `NAME:/path` (a named volume: a directory of the stack's state dir,
kept across restarts, removed with the state dir by `stack down --volumes`) or a host path
(`./site:/www:ro`, `/abs:/in`, `${data_dir}/x:/x`), bind-mounted; `:ro` mounts it read-only."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import StartError, UnsafePath
from ...kind_api import private_dir

NAMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""A named volume's name (as Compose takes it): also a safe directory name."""
MODES = ("ro", "rw")
HOST = ("/", "./", "../", "${")
"""How a host path begins (`${...}`: a template, e.g. `${data_dir}/x`, rendered at start)."""


@dataclass(frozen=True)
class Volume:
    source: str  # a name, or a host path ("./x" relative to the profile's directory)
    target: str  # the path inside the container
    read_only: bool = False

    @property
    def named(self) -> bool:
        return not self.source.startswith(HOST) and self.source not in (".", "..")

    def anchored(self, base: str) -> str:
        """As written, a relative host path made absolute from `base`."""
        source = self.source
        if not self.named and not source.startswith(("/", "${")):
            source = os.path.normpath(os.path.join(base, source))
        return f"{source}:{self.target}" + (":ro" if self.read_only else "")


def parse_volume(written: str) -> Volume:
    """`SOURCE:TARGET[:ro|rw]`; ValueError saying what is wrong."""
    parts = written.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f'{written!r}: expected "NAME:/path", "./dir:/path" or "...:ro"')
    source, target, *mode = parts
    if mode and mode[0] not in MODES:
        raise ValueError(f"{written!r}: mode {mode[0]!r} is not one of {', '.join(MODES)}")
    if not target.startswith("/"):
        raise ValueError(f"{written!r}: the path in the container must be absolute")
    found = Volume(source, target, read_only=mode == ["ro"])
    if found.named and not NAMED.fullmatch(source):
        raise ValueError(
            f"{written!r}: {source!r} is neither a volume name (letters, digits, _ . -) nor a "
            "host path (start it with ./, / or ${...})"
        )
    return found


def named_dir(volumes: Path, name: str) -> Path:
    """The directory of the named volume `name` under `volumes` (the stack's own, 0700): made
    0700 if missing; what is there must be a real directory (never a link, never followed).
    Its owner may be another uid: a container's entrypoint may chown its volume."""
    private_dir(volumes)
    path = volumes / name
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):  # (lstat: a link is not a directory)
            raise UnsafePath(f"{path} is not a plain directory; remove it and try again") from None
    return path


def binds(
    mounts: list[Volume], volumes: Path, root: Path, render: Callable[[str], str], service: str
) -> list[str]:
    """The engine's `volumes` argument: "HOST:PATH:MODE" for each. A named volume's directory
    is made under `volumes`; a host path is rendered, and taken from `root` if still relative
    (a service made in code). A host path that is not there is refused (StartError naming the
    service and `volumes[i]`): the engine would make it, as root, wherever a typo points."""
    found = []
    for i, v in enumerate(mounts):
        host = named_dir(volumes, v.source) if v.named else root / render(v.source)
        if not os.path.exists(host):  # (a dangling link too: the engine would make its target)
            why = f"volumes[{i}]: the host path {os.path.normpath(host)} does not exist"
            raise StartError(service, "starting", why + " (make it, or fix the path)")
        found.append(f"{os.path.normpath(host)}:{v.target}:{'ro' if v.read_only else 'rw'}")
    return found
