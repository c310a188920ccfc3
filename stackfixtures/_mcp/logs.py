"""Services' output for an agent: each line with its mark (its number in the service's output:
pass it as `since` to read only what came after), and a search by substring or regex."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import RequestRefused

if TYPE_CHECKING:
    from .._control.protocol import LogChunk

ALL = 10**9
"""`n` for every line a running stack still holds (as `stack logs --tail all`)."""
SEARCH_BOUND = 5.0
"""Seconds a regular expression may take over the lines of one search: Python's `re` has no
bound (`(.|.)*!` backtracks for ever, holding the GIL, and the whole server with it), the
`regex` module stops at a timeout."""


def numbered(chunk: LogChunk) -> list[dict[str, Any]]:
    """A chunk's lines, each with its mark and (from a launcher that records it) its time."""
    lines, times = chunk["lines"], chunk.get("times") or []
    first = chunk["mark"] - len(lines)
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        said: dict[str, Any] = {"mark": first + i + 1, "line": line}
        if i < len(times):
            said["time"] = times[i]
        out.append(said)
    return out


def matcher(pattern: str, regex: bool, ignore_case: bool) -> Callable[[str], bool]:
    """Whether a line holds `pattern` (a substring, or a regular expression, as Python's `re`
    reads it); RequestRefused for a regular expression that does not compile, or that takes
    more than SEARCH_BOUND seconds over the lines it is given."""
    if not regex:
        wanted = pattern.casefold() if ignore_case else pattern
        return lambda line: wanted in (line.casefold() if ignore_case else line)
    import regex as bounded  # (only for a search that asks for it)

    try:
        compiled = bounded.compile(pattern, bounded.IGNORECASE if ignore_case else 0)
    except bounded.error as e:
        raise RequestRefused(f"not a regular expression: {pattern!r} ({e})") from None
    deadline: float | None = None

    def hit(line: str) -> bool:
        nonlocal deadline
        now = time.monotonic()
        deadline = now + SEARCH_BOUND if deadline is None else deadline
        try:
            return compiled.search(line, timeout=max(deadline - now, 0.001)) is not None
        except TimeoutError:
            raise RequestRefused(
                f"the regular expression {pattern!r} took too long (over {SEARCH_BOUND:g} s): "
                "one that backtracks less, or a substring"
            ) from None

    return hit


def search(
    chunks: Mapping[str, LogChunk], hit: Callable[[str], bool], limit: int
) -> dict[str, Any]:
    """The lines of `chunks` that `hit`, service by service, at most `limit` (the last ones:
    the newest matter most), and each service's mark to search on from."""
    found = [
        {"service": name, **said}
        for name, chunk in chunks.items()
        for said in numbered(chunk)
        if hit(said["line"])
    ]
    kept = found[-limit:] if limit > 0 else []
    return {
        "matches": kept,
        "more": len(found) - len(kept),
        "marks": {name: chunk["mark"] for name, chunk in chunks.items()},
    }
