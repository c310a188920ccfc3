"""Which file a profile's name means (no file is read), and how large it may be."""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 1 << 20
"""A profile is at most 1 MiB: larger (or endless, as /dev/zero) is a mistake, refused before
it is read."""


def resolve_path(profile: str | Path, root: Path) -> Path:
    """`dev` -> `<root>/profiles/dev.toml`; a path (with a slash or .toml) is taken as is."""
    text = str(profile)
    if "/" in text or text.endswith(".toml"):
        path = Path(text)
        return path if path.is_absolute() else (Path.cwd() / path)
    return root / "profiles" / f"{text}.toml"
