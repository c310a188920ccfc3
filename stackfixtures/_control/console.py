"""What `stack` prints: service output prefixed with its name, state changes, the ready table.

Colours only when writing to a terminal that wants them: plain lines for CI logs and pipes,
with NO_COLOR set (no-color.org) and on TERM=dumb.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

from .._engine.masking import mask as mask  # passwords in URLs, for people (re-exported)

if TYPE_CHECKING:
    from .._engine.events import Event

COLOURS = [
    "cyan",
    "green",
    "yellow",
    "magenta",
    "blue",
    "bright_cyan",
    "bright_green",
    "bright_yellow",
    "bright_magenta",
    "bright_blue",
]
STATE_COLOURS = {"ready": "green", "failed": "red", "stopped": "white", "degraded": "yellow"}


_ANSI = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35}
_ANSI |= {"cyan": 36, "white": 37}
_ANSI |= {f"bright_{name}": code + 60 for name, code in list(_ANSI.items())}


def style(text: str, fg: str | None = None, bold: bool = False, dim: bool = False) -> str:
    """`text` in ANSI colours (what click.style does, without importing click at start-up)."""
    codes = [str(_ANSI[fg])] if fg in _ANSI else []
    codes += ["1"] if bold else []
    codes += ["2"] if dim else []
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text


def wants_colour(out: TextIO) -> bool:
    """A terminal, no NO_COLOR, and not TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return out.isatty()


def plural(n: int, noun: str) -> str:
    """`1 service`, `3 services`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def error_text(e: BaseException) -> str:
    """`error: <problem>`; several problems one per line (`file:line:column: key: problem`,
    as compilers write them, so editors can jump to each), then how many there are."""
    problems = getattr(e, "problems", None) or []
    if len(problems) < 2:
        return f"error: {e}"
    return "\n".join([*map(str, problems), f"error: {len(problems)} problems, listed above"])


def went_away(state_dir: object) -> str:
    """A stack whose launcher went away while a command spoke to it (`stack down` elsewhere)."""
    return f"error: the stack at {state_dir} went away"


class Console:
    def __init__(self, names: Iterable[str], out: TextIO | None = None, colour: bool | None = None):
        self.out = out or sys.stdout
        self.colour = wants_colour(self.out) if colour is None else colour
        self.broken = False
        names = list(names)
        self.width = max((len(n) for n in names), default=5)
        self._colour_of = {n: COLOURS[i % len(COLOURS)] for i, n in enumerate(names)}
        self.masking: Callable[[str], str] = mask
        """What every line goes through before it is written: passwords in URLs, and the
        stack's secrets once a launcher hands it its stack's (`Secrets.mask`)."""

    def _style(self, text: str, **kw: Any) -> str:
        return style(text, **kw) if self.colour else text

    def _write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.out.write(self.masking(text) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError):  # `stack run | head`: stop printing, keep running
            self.broken = True

    def raw(self, text: str) -> None:
        """A line as it is (e.g. JSON for machines)."""
        self._write(text)

    def line(self, service: str, text: str) -> None:
        prefix = self._style(f"{service:<{self.width}} |", fg=self._colour_of.get(service, "white"))
        self._write(f"{prefix} {text}")

    def event(self, e: Event, stamp: bool = False) -> None:
        """A state change; `stamp`: with its local date and time (`stack events`)."""
        arrow = f"{e.source} -> {self._style(e.target, fg=STATE_COLOURS.get(e.target), bold=True)}"
        reason = f"  ({e.reason})" if e.reason else ""
        when = ""
        if stamp:
            local = datetime.datetime.fromtimestamp(e.time)
            when = self._style(local.isoformat(sep=" ", timespec="milliseconds"), dim=True) + " "
        self._write(f"{when}{self._style('[stack]', dim=True)} {e.service}: {arrow}{reason}")

    def info(self, text: str) -> None:
        self._write(f"{self._style('[stack]', dim=True)} {text}")

    def error(self, text: str) -> None:
        self._write(self._style("error: ", fg="red", bold=True) + text)

    def table(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        shown = self.masking
        rows = [
            {c: shown(str(r[c])) if r.get(c) is not None else None for c in columns} for r in rows
        ]
        widths = {c: max([len(c), *(len(str(r.get(c) or "")) for r in rows)]) for c in columns}
        self._write("  ".join(self._style(c.upper().ljust(widths[c]), bold=True) for c in columns))
        for r in rows:
            self._write(
                "  ".join(
                    str(r.get(c) if r.get(c) is not None else "").ljust(widths[c]) for c in columns
                )
            )
