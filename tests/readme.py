"""The README as the tests read it: a section by its heading, and the code blocks in it (its
examples are tried as written)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def section(heading: str) -> str:
    """From `heading` (e.g. "## Built-in kinds") to the next second-level heading."""
    text = README.read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    """The bodies of the ```language blocks in `text`, in order."""
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)
