"""The live view (Textual): a table of services, the selected one's log tail, and keys to
operate them. It drives the stack only through a StackControl, normally a RemoteControl to a
launcher, so `stack run`, `stack up --attach` and `stack attach` share it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import DataTable, Footer, Log, Static

from ..._control.protocol import StackControl
from .feed import COLUMNS, GONE, Feed, Row, Snapshot, Tail

MIN_WIDTH, MIN_HEIGHT = 60, 12
"""Below this the view shows how to get a usable one instead of a squashed table."""

STATE_STYLES = {
    "ready": "bold green",
    "degraded": "bold yellow",
    "failed": "bold red",
    "backoff": "bold magenta",
    "starting": "cyan",
    "waiting": "cyan",
    "stopping": "yellow",
    "stopped": "dim",
    "pending": "dim",
}
WHY_WIDTH = 48
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Signals from outside (kill, a closed terminal): they quit (or detach) as the keys do."""

# How the view ended (App.return_value): what `stack run` / `stack attach` do next.
STOPPED, DETACHED, LEFT, GONE_AWAY = "stopped", "detached", "left", "gone"


class LiveView(App[str]):
    """`control`'s services, live. `detachable`: `d` leaves the stack running (attach)."""

    TITLE = "stack"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #summary { height: auto; padding: 0 1; background: $boost; }
    #warnings { height: auto; padding: 0 1; color: $warning; }
    #services { height: auto; max-height: 50%; }
    #detail { height: 1; padding: 0 1; background: $boost; }
    #log { height: 1fr; }
    #small { display: none; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "operate('restart')", "restart"),
        Binding("x", "operate('stop')", "stop"),
        Binding("s", "operate('start')", "start"),
        Binding("k", "operate('kill')", "kill"),
        Binding("f", "follow", "follow all logs"),
        Binding("d", "detach", "detach"),
        Binding("q", "quit_stack", "quit (stop the stack)"),
        Binding("ctrl+c", "quit_stack", "quit", show=False, priority=True),
    ]

    def __init__(self, control: StackControl, detachable: bool = False) -> None:
        super().__init__()
        self.control = control
        self.detachable = detachable
        self.feed = Feed(control)
        self.tail = Tail()
        self.rows: dict[str, Row] = {}
        self.selected: str | None = None
        self.follow_all = False
        self.stopping = False

    def compose(self) -> ComposeResult:
        with Vertical(id="main"):
            yield Static("connecting…", id="summary")
            yield Static("", id="warnings")
            table: DataTable[Any] = DataTable(id="services", cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
            yield Static("", id="detail")
            yield Log(id="log", max_lines=2000)
        yield Static("", id="small")
        yield Footer()

    def on_mount(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._fit(self.size.width, self.size.height)
        if not self.is_headless:  # a closed terminal or `kill`: as if q was pressed
            for sig in SIGNALS:
                self.loop.add_signal_handler(sig, self._on_signal)
        self._poll()

    def _on_signal(self) -> None:
        if self.detachable:
            self.exit(DETACHED)
        elif not self.stopping:
            self.action_quit_stack()

    def on_unmount(self) -> None:
        if not self.is_headless:
            for sig in SIGNALS:
                self.loop.remove_signal_handler(sig)

    # ------------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        """Read the stack until the view closes or its launcher is gone."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        while not worker.is_cancelled:
            snap = self.feed.poll(wait=0.5)
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.call_from_thread(self._show, snap)
            if snap.gone:
                return

    def _show(self, snap: Snapshot) -> None:
        if snap.gone:
            self.exit(STOPPED if self.stopping else GONE_AWAY)
            return
        self._table(snap.rows)  # first: choosing the first row fills the log from the tail
        self.tail.add(snap.lines)
        self._summary(snap)
        if self.follow_all:
            self.query_one(Log).write_lines(self.tail.prefixed(snap.lines))
        else:
            self.query_one(Log).write_lines([t for n, t in snap.lines if n == self.selected])
        self._detail()

    def _table(self, rows: list[Row]) -> None:
        table: DataTable[Any] = self.query_one(DataTable)
        fresh = {r.name: r for r in rows}
        if list(fresh) != list(self.rows):
            table.clear()
            for r in rows:
                table.add_row(*self._cells(r), key=r.name)
            if self.selected in fresh:
                table.move_cursor(row=list(fresh).index(self.selected))
            elif rows:
                self._select(rows[0].name)
        else:
            for r in rows:
                if r != self.rows.get(r.name):
                    for col, value in zip(table.columns, self._cells(r), strict=True):
                        table.update_cell(r.name, col, value, update_width=True)
        self.rows = fresh

    @staticmethod
    def _cells(r: Row) -> list[Any]:
        why = r.why if len(r.why) <= WHY_WIDTH else r.why[: WHY_WIDTH - 1] + "…"
        return [r.name, Text(r.state, style=STATE_STYLES.get(r.state, "")), why, *r.cells()[1:]]

    def _summary(self, snap: Snapshot) -> None:
        info = snap.stack
        ready = sum(r.state in ("ready", "degraded") for r in snap.rows)
        parts = [f"stack {info.get('id', '?')}", f"profile {info.get('profile', '?')}"]
        parts.append(f"{ready}/{len(snap.rows)} ready")
        if info.get("watching"):
            parts.append("watching " + ", ".join(info["watching"]))
        if info.get("dashboard"):  # (the URL printed above the view is hidden while it runs)
            parts.append(f"dashboard {info['dashboard']}")
        if self.stopping:
            parts.append("STOPPING (q again: leave the view, the stack goes on stopping)")
        self.query_one("#summary", Static).update(" · ".join(parts))
        warnings = info.get("warnings") or []
        shown = self.query_one("#warnings", Static)
        shown.display = bool(warnings)
        shown.update("\n".join(f"warning: {w}" for w in warnings))

    def _detail(self) -> None:
        if self.follow_all:
            text = "log: all services (f: only the selected one)"
        elif self.selected in self.rows:
            r = self.rows[self.selected]
            text = f"log: {r.name} · {r.state}" + (f" · {r.why}" if r.why else "")
        else:
            text = "log"
        self.query_one("#detail", Static).update(text)

    # ------------------------------------------------------------------ choosing

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._select(str(event.row_key.value))

    def _select(self, name: str) -> None:
        if name == self.selected:
            return
        self.selected = name
        self._refill()

    def _refill(self) -> None:
        log = self.query_one(Log)
        log.clear()
        log.write_lines(self.tail.of(None if self.follow_all else self.selected))
        log.scroll_end(animate=False, x_axis=False)
        self._detail()

    def action_follow(self) -> None:
        self.follow_all = not self.follow_all
        self._refill()

    # ------------------------------------------------------------------ operating

    def action_operate(self, verb: str) -> None:
        if self.selected is not None:
            self.notify(f"{self.selected}: {verb}…", timeout=2)
            _daemon(self._operate, verb, self.selected)

    def _operate(self, verb: str, name: str) -> None:
        """In a thread of its own: a restart may take as long as the service's start."""
        try:
            if verb == "restart":
                self.control.restart(name)
            elif verb == "stop":
                self.control.stop([name])
            elif verb == "start":
                self.control.start([name])
            else:
                self.control.kill(name, "SIGKILL")
            message, severity = f"{name}: {verb} done", "information"
        except GONE:
            return
        except Exception as e:  # the stack refused or the service failed: say why
            message, severity = f"{name}: {verb} failed: {e}", "error"
        self._soon(partial(self.notify, message, severity=severity))  # type: ignore[arg-type]

    def _soon(self, fn: Callable[[], object]) -> None:
        """From another thread: run `fn` in the view's loop, unless the view has closed."""
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(fn)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "detach":
            return self.detachable
        return True

    def action_detach(self) -> None:
        if self.detachable:
            self.exit(DETACHED)

    def action_quit_stack(self) -> None:
        if self.stopping:  # a second press: give the terminal back; the stack goes on stopping
            self.exit(LEFT)
            return
        self.stopping = True
        self.query_one("#summary", Static).update("stopping the stack…")
        _daemon(self._down)

    def _down(self) -> None:
        """Ask the stack to stop; the view closes once its launcher is gone (seen by _poll)."""
        with contextlib.suppress(Exception):  # gone already, or refused while stopping
            self.control.down()

    # ------------------------------------------------------------------ small terminals

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.query_one("#main").display = not small
        note = self.query_one("#small", Static)
        note.display = small
        if small:
            note.update(
                f"The terminal is {width}x{height}; the live view needs at least "
                f"{MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge it, or run with --no-tui for plain "
                "output. q stops the stack."
            )


def _daemon(fn: Callable[..., None], *args: Any) -> None:
    """Run a blocking control call without holding up the view's exit (Textual's thread
    workers are waited for when the app closes; a stop or a start may take minutes)."""
    threading.Thread(target=fn, args=args, daemon=True).start()
