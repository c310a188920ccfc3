"""Where each key of a TOML file is written: key path -> line and column.

tomllib (the parser) keeps no positions, and neither does tomlkit (it keeps trivia, not
offsets). So tomllib stays the parser, and this scanner walks the text it has already accepted
and notes where every key, table header and array element starts. It relies on the text being
valid TOML; the tests check it against tomllib on generated documents.
"""

from __future__ import annotations

import bisect
import contextlib
import tomllib
from dataclasses import dataclass, field

KeyPath = tuple[str | int, ...]
"""A path into parsed TOML: `("services", "web", "command", 1)`."""

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n\r#")


def format_path(path: KeyPath) -> str:
    """`("services", "a", "command", 1)` -> `services.a.command[1]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass
class SourceMap:
    """The positions of one file's keys (offsets into its text) and its line starts."""

    file: str
    offsets: dict[KeyPath, int] = field(default_factory=dict)
    line_starts: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def of(cls, file: str, text: str) -> SourceMap:
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        return cls(file, locate(text), starts)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def find(self, path: KeyPath) -> tuple[int, int] | None:
        """The position of `path`, else of its nearest written ancestor; None if neither is."""
        for n in range(len(path), 0, -1):
            offset = self.offsets.get(path[:n])
            if offset is not None:
                return self.position(offset)
        return None


def locate(text: str) -> dict[KeyPath, int]:
    """Offsets of every key path written in `text` (valid TOML): the first place each table,
    key or array element appears. A scanner surprise leaves what was found so far."""
    scanner = _Scanner(text)
    with contextlib.suppress(Exception):  # positions help the reader; never a reason to fail
        scanner.document()
    return scanner.found


class _Scanner:
    """A single pass over valid TOML, recording where each key path begins."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.found: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> elements so far

    def record(self, path: KeyPath, offset: int) -> None:
        self.found.setdefault(path, offset)

    def blank(self, newlines: bool = True) -> None:
        """Skip spaces and tabs, and with `newlines` also line ends and comments."""
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif newlines and c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                return

    def document(self) -> None:
        current: KeyPath = ()
        while True:
            self.blank()
            if self.i >= len(self.s):
                return
            if self.s.startswith("[[", self.i):
                start = self.i
                self.i += 2
                path = self.header_path(self.key(), array=True)
                self.i = self.s.index("]]", self.i) + 2
                n = self.arrays.get(path, 0)
                self.arrays[path] = n + 1
                self.record(path, start)
                current = (*path, n)
                self.record(current, start)
            elif self.s[self.i] == "[":
                self.i += 1
                current = self.header_path(self.key(), array=False)
                self.i = self.s.index("]", self.i) + 1
            else:
                self.key_value(current)

    def header_path(self, parts: list[tuple[str, int]], array: bool) -> KeyPath:
        """A header's path, through the latest element of any array of tables it passes."""
        path: KeyPath = ()
        for n, (name, offset) in enumerate(parts):
            path = (*path, name)
            self.record(path, offset)
            last = n == len(parts) - 1
            if path in self.arrays and not (array and last):
                path = (*path, self.arrays[path] - 1)
        return path

    def key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with the offset it starts at."""
        parts = []
        while True:
            self.blank(newlines=False)
            start = self.i
            c = self.s[self.i]
            if c == '"':
                end = self.basic_string_end(self.i)
                name = tomllib.loads("k = " + self.s[self.i : end])["k"]
                self.i = end
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                name = self.s[self.i + 1 : end]
                self.i = end + 1
            else:
                while self.i < len(self.s) and self.s[self.i] in _BARE:
                    self.i += 1
                name = self.s[start : self.i]
                if not name:
                    raise ValueError(f"no key at offset {start}")
            parts.append((name, start))
            self.blank(newlines=False)
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts

    def key_value(self, base: KeyPath) -> None:
        path = base
        for name, offset in self.key():
            path = (*path, name)
            self.record(path, offset)
        self.blank(newlines=False)
        if self.s[self.i] != "=":
            raise ValueError(f"no '=' at offset {self.i}")
        self.i += 1
        self.blank(newlines=False)
        self.value(path)

    def value(self, path: KeyPath) -> None:
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            while True:
                self.blank()
                if self.s[self.i] == "}":
                    self.i += 1
                    return
                self.key_value(path)
                self.blank()
                if self.s[self.i] == ",":
                    self.i += 1
        elif c == "[":
            self.i += 1
            n = 0
            while True:
                self.blank()
                if self.s[self.i] == "]":
                    self.i += 1
                    return
                self.record((*path, n), self.i)
                self.value((*path, n))
                n += 1
                self.blank()
                if self.s[self.i] == ",":
                    self.i += 1
        elif c in "\"'":
            self.i = self.string_end(self.i)
        else:
            while self.i < len(self.s) and self.s[self.i] not in _SCALAR_END:
                self.i += 1

    def string_end(self, start: int) -> int:
        """The offset just after the string starting at `start` (any of the four kinds)."""
        s = self.s
        quote = s[start]
        if s.startswith(quote * 3, start):
            j = start + 3
            while True:
                if quote == '"' and s[j] == "\\":
                    j += 2
                    continue
                if s.startswith(quote * 3, j):
                    run = 3
                    while run < 5 and j + run < len(s) and s[j + run] == quote:
                        run += 1
                    return j + run
                j += 1
        if quote == '"':
            return self.basic_string_end(start)
        return s.index("'", start + 1) + 1

    def basic_string_end(self, start: int) -> int:
        j = start + 1
        while self.s[j] != '"':
            j += 2 if self.s[j] == "\\" else 1
        return j + 1
