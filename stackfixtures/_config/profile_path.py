"""Which file a profile's name means (no file is read)."""

from __future__ import annotations

from pathlib import Path


def resolve_path(profile: str | Path, root: Path) -> Path:
    """`dev` -> `<root>/profiles/dev.toml`; a path (with a slash or .toml) is taken as is."""
    text = str(profile)
    if "/" in text or text.endswith(".toml"):
        path = Path(text)
        return path if path.is_absolute() else (Path.cwd() / path)
    return root / "profiles" / f"{text}.toml"
