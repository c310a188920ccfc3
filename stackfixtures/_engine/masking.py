"""Secrets kept out of what is written and shown: passwords inside URLs, and the stack's own
secret values (each service's configured password, the passwords its handles carry) wherever
they appear, e.g. a service that prints `PGPASSWORD=...` or echoes the password bare."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

HIDDEN = "***"
_URL_SECRET = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)
_SECRET_KEY = re.compile(r"passw(or)?d|secret|token", re.IGNORECASE)
_URL_TOKEN = re.compile(r"[?&][a-z_]*token=([^&#\s]+)", re.IGNORECASE)
"""A token in a URL's query (the dashboard's `?token=`: whoever holds it steers the stack)."""

MIN_SECRET = 4
"""Shorter values are masked inside URLs only: replaced as bare text, a password like `pg`
would shred every line that mentions PostgreSQL."""


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with passwords in URLs and every one of `secrets` replaced by `***`."""
    if "://" in text:
        text = _URL_SECRET.sub(rf"\1{HIDDEN}\3", text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


def secrets_in(values: Mapping[str, Any]) -> set[str]:
    """The secret values of a service's settings or handle attributes: those of keys named like
    a password, secret or token, the passwords of URLs (both as written and unquoted) and the
    tokens in their queries."""
    found: set[str] = set()
    for key, value in values.items():
        if isinstance(value, Mapping):
            found |= secrets_in(value)
        if not isinstance(value, str):
            continue
        if _SECRET_KEY.search(str(key)):
            found.add(value)
        if "://" in value:
            for m in _URL_SECRET.finditer(value):
                found |= {m.group(2), unquote(m.group(2))}
            found |= {m.group(1) for m in _URL_TOKEN.finditer(value)}
    return {form for s in found if len(s) >= MIN_SECRET and s != HIDDEN for form in forms(s)}


def hidden(data: Any) -> Any:
    """JSON-like `data` (a status, handles) with its secrets (`secrets_in` each mapping in it)
    masked in every string of it, longest first: as people's views show them."""
    found: set[str] = set()

    def gather(value: Any) -> None:
        if isinstance(value, Mapping):
            found.update(secrets_in(value))
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                gather(item)

    gather(data)
    secrets = sorted(found, key=len, reverse=True)

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return mask(value, secrets)
        if isinstance(value, Mapping):
            return {k: masked(v) for k, v in value.items()}
        if isinstance(value, list):
            return [masked(item) for item in value]
        return value

    return masked(data)


def forms(secret: str) -> set[str]:
    """`secret` as a program may write it: as is, percent-encoded (a URL it builds itself, a
    form), escaped in JSON (structured logs; ASCII-only or not) or in a Python repr."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }


class Secrets:
    """The secret values a stack knows, growing as services are defined and hand out handles;
    masks them (longest first, so a secret containing another is hidden whole)."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, values: Mapping[str, Any]) -> None:
        new = secrets_in(values) - set(self._values)
        if new:
            with self._lock:
                merged = set(self._values) | new
                self._values = tuple(sorted(merged, key=len, reverse=True))

    def mask(self, text: str) -> str:
        return mask(text, self._values)

    def cut(self, data: bytes) -> int:
        """Where a piece of a longer line may end so that masking it alone hides every secret
        in it: before any secret it holds part of (one cut short by the piece's end, or one
        that could begin in its last bytes and go on in the next piece), and on a character
        boundary. 0 when no such place is found (the piece is kept whole for the next)."""
        values = [v.encode() for v in self._values]
        longest = max((len(v) for v in values), default=1)
        cut = len(data) - (longest - 1)
        moved = True
        while moved and cut > 0:
            moved = False
            for v in values:  # a secret across the cut: cut before it
                i = data.find(v, max(cut - len(v) + 1, 0), cut + len(v) - 1)
                if i != -1 and i < cut:
                    cut, moved = i, True
        while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:  # in a UTF-8 sequence
            cut -= 1
        return max(cut, 0)
