"""Services' output for an agent: each line with its mark (its number in the service's output:
pass it as `since` to read only what came after), and a search by substring or regex."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import RequestRefused

if TYPE_CHECKING:
    from .._control.protocol import LogChunk

ALL = 10**9
"""`n` for every line a running stack still holds (as `stack logs --tail all`)."""
SEARCH_BOUND = 5.0
"""Seconds a regular expression may take over the lines of one search. Python's `re` has no
bound and holds the GIL (`(.|.)+\\d` backtracks for ever: the whole server with it), so the
search runs in a process of its own, killed past this bound."""
_SEARCH = """
import json, re, sys
asked = json.load(sys.stdin)
found = re.compile(asked["pattern"], asked["flags"]).search
json.dump([i for i, line in enumerate(asked["lines"]) if found(line)], sys.stdout)
"""

Matcher = Callable[[list[str]], list[bool]]
"""Which of the lines hold the pattern."""


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


def matcher(pattern: str, regex: bool, ignore_case: bool) -> Matcher:
    """Which lines hold `pattern` (a substring, or a Python regular expression);
    RequestRefused for a regular expression that does not compile, or that takes more than
    SEARCH_BOUND seconds over the lines it is given."""
    if not regex:
        wanted = pattern.casefold() if ignore_case else pattern
        return lambda lines: [wanted in (x.casefold() if ignore_case else x) for x in lines]
    flags = re.IGNORECASE if ignore_case else 0
    try:
        re.compile(pattern, flags)  # (its mistakes said here: compiling is bounded)
    except re.error as e:
        raise RequestRefused(f"not a regular expression: {pattern!r} ({e})") from None

    def hits(lines: list[str]) -> list[bool]:
        asked = json.dumps({"pattern": pattern, "flags": int(flags), "lines": lines})
        try:  # (on timeout, run kills the process and waits for it)
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _SEARCH],
                input=asked,
                capture_output=True,
                text=True,
                timeout=SEARCH_BOUND,
                check=True,
            )
        except subprocess.TimeoutExpired:
            raise RequestRefused(
                f"the regular expression {pattern!r} took too long (over {SEARCH_BOUND:g} s): "
                "one that backtracks less, or a substring"
            ) from None
        found = set(json.loads(done.stdout))
        return [i in found for i in range(len(lines))]

    return hits


def search(chunks: Mapping[str, LogChunk], hits: Matcher, limit: int) -> dict[str, Any]:
    """The lines of `chunks` that `hits`, service by service, at most `limit` (the last ones:
    the newest matter most), and each service's mark to search on from."""
    said = [{"service": name, **x} for name, chunk in chunks.items() for x in numbered(chunk)]
    found = [x for x, hit in zip(said, hits([x["line"] for x in said]), strict=True) if hit]
    kept = found[-limit:] if limit > 0 else []
    return {
        "matches": kept,
        "more": len(found) - len(kept),
        "marks": {name: chunk["mark"] for name, chunk in chunks.items()},
    }
