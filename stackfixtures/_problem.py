"""`Problem`: one mistake in a file, as `ProfileError` carries it (exported by `errors`; a
leaf of its own, like `_ended.py`, so that errors.py stays one readable hierarchy)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: where it is (file, line, column, key path) and what is wrong.
    `line` and `column` count from 1; 0 means the position is not known."""

    file: str
    key: str
    message: str
    line: int = 0
    column: int = 0
    service: str = ""  # a problem of an @service's code: `conftest.py:7 in web: ...`

    @property
    def where(self) -> str:
        """`file:line:column: key.path`, or `file:line in service` (as much as is known)."""
        place = self.file
        if self.line:
            place += f":{self.line}" + (f":{self.column}" if self.column else "")
        if self.service:
            place += f" in {self.service}"
        return f"{place}: {self.key}" if self.key else place

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line or 1 << 30, self.column, self.key)
