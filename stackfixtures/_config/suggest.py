"""The "did you mean" of an unknown name: the closest known one (difflib, as Python's own
NameError suggestions do)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ..errors import UnknownService


def _edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) turning `a` into `b`."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name `word` most likely misspells, or None when none is close: one slip of
    the finger first (`prot` -> `port`), else difflib's closest match."""
    candidates = [k for k in dict.fromkeys(known) if k != word]
    folded = {k.lower(): k for k in candidates}
    if word.lower() in folded:  # `Command` for `command`
        return folded[word.lower()]
    if len(word) > 2:
        slips = [k for k in candidates if _edits(word.lower(), k.lower()) == 1]
        if slips:
            return slips[0]
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
    return found[0] if found else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'command'?`, or "" when nothing known is close to `word`."""
    match = closest(word, known)
    return f"; did you mean {match!r}?" if match else ""


def unknown_service(name: str, known: Iterable[str]) -> UnknownService:
    """`unknown service 'dbb' (defined: db, web); did you mean 'db'?`: the one wording of
    every place a service is named (operations, -s, --replace, `[stack] services`)."""
    names = list(known)
    return UnknownService(name, names, did_you_mean(name, names))
