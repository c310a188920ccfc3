"""Ready clones of a server's template, made ahead in the background: `postgres_db` takes one
without a round trip to the server when the pool keeps up, and hands it back to be dropped off
the test's path.

One pool per (server dsn, template, template_id, strategy, server pid) in each process that runs
`postgres_db` (each xdist worker its own, so no two processes ever hold one clone), kept by
the stack's shared helpers (_engine/resources.py), which close it -- its tasks awaited, its
unused clones and the released ones dropped -- before the stack stops its services. A server
whose template was rebuilt (a new template_id, or the template database itself made anew:
another oid) never hands out a clone of the old one.

The pool grows with demand: it keeps `target` clones ahead, doubling `target` (up to the
configured maximum) each time a test found it empty.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import StackError
from . import owners

PRODUCERS = 2
DROP_BACKLOG = 16  # released clones left waiting at most while clones are wanted
CLOSE_BOUND = 60.0  # seconds a closing pool spends dropping what it made
NO_DATABASE = "3D000"  # psycopg.errors.InvalidCatalogName's SQLSTATE
OID = "SELECT oid FROM pg_database WHERE datname = %s"
RETRY_AFTER = 0.5  # seconds before a clone whose template did not exist is tried once more


@dataclass(frozen=True)
class PoolKey:
    dsn: str  # the server's own database: where clones are created and dropped from
    template: str
    template_id: str  # the template's identity (the server handle's), "" when it has none
    strategy: str  # the CREATE DATABASE clause, "" before PostgreSQL 15
    pid: int  # the server process (0: not known): a restarted server gets a pool of its own


class ClonePool:
    """Clones of one template, made ahead by background tasks this pool owns."""

    def __init__(
        self, key: PoolKey, maximum: int, connect: Callable[[str], Any], log: Callable[[str], None]
    ) -> None:
        self.key = key
        self.maximum = maximum
        self.target = 1  # clones kept ahead; doubled whenever a test finds none
        self._connect = connect  # dsn -> awaitable of an autocommit AsyncConnection
        self._log = log
        self._ready: deque[tuple[str, int]] = deque()  # (name, the template's oid it copies)
        self._waiters: deque[asyncio.Future[str]] = deque()
        self._drops: deque[str] = deque()
        self._making = 0
        self._oid: int | None = None
        self._checker: Any = None  # the connection take() checks the template's oid on
        self._checking = asyncio.Lock()
        self._wake_makers = asyncio.Event()
        self._wake_dropper = asyncio.Event()
        self._closing = False
        self._aborted = False
        self._tasks: list[asyncio.Task[None]] = []
        self.error: BaseException | None = None
        self.made = 0
        self.misses = 0

    # ------------------------------------------------------------------ the test's side

    @property
    def broken(self) -> bool:
        return self.error is not None

    async def take(self) -> str:
        """A ready clone: one made ahead, else the next one made (the pool then grows)."""
        self._start()
        if self.error is not None:
            raise self.error
        current = await self._current_oid() if self._ready else None
        while self._ready:
            name, oid = self._ready.popleft()
            if oid == current:
                self._wake_makers.set()
                return name
            self._drops.append(name)  # made from a template rebuilt since
            self._wake_dropper.set()
        self.misses += 1
        self.target = min(self.maximum, self.target * 2)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake_makers.set()
        try:
            return await waiter
        except BaseException:  # cancelled (the start timed out) or failed: re-raised
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())  # made for us just as we gave up: not leaked
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def release(self, name: str) -> None:
        """`name` is done with: dropped in the background (the test goes on at once)."""
        self._drops.append(name)
        self._wake_dropper.set()

    # ------------------------------------------------------------------ background

    def _start(self) -> None:
        if self._tasks or self._closing:
            return
        makers = [self._make_loop() for _ in range(PRODUCERS)]
        self._tasks = [asyncio.create_task(c, name="postgres_db:clones") for c in makers]
        self._tasks.append(asyncio.create_task(self._drop_loop(), name="postgres_db:drops"))

    def _wanted(self) -> bool:
        return len(self._ready) + self._making < self.target + len(self._waiters)

    async def _make_loop(self) -> None:
        """Make clones while they are wanted, on a connection held only for that burst (so
        no idle connection of ours outlives a restart of the server)."""
        try:
            while not self._closing:
                if not self._wanted():
                    self._wake_dropper.set()  # idle: the dropper's turn
                    self._wake_makers.clear()
                    await self._wake_makers.wait()
                    continue
                async with await self._connect(self.key.dsn) as conn:
                    while self._wanted() and not self._closing:
                        self._making += 1
                        try:
                            name, oid = await self._make(conn)
                        finally:
                            self._making -= 1
                        self._deliver(name, oid)
        except Exception as e:  # the server went away, the template is gone, ...
            self._fail(e)
        finally:
            self._wake_dropper.set()  # it may be waiting for the last clone made to drop it

    async def _make(self, conn: Any) -> tuple[str, int]:
        """CREATE DATABASE from the template, filed under the template's oid read before and
        after the copy: a clone made while the template was swapped (either one copied) is
        dropped and made again, so none is filed under a template it does not copy."""
        template = self.key.template
        while True:
            before = await self._oid_on(conn)
            name = owners.new_name("test")
            create = f'CREATE DATABASE "{name}" TEMPLATE "{template}"{self.key.strategy}'
            try:
                await conn.execute(create)
            except Exception as e:  # no template this instant (a builder swaps it): once more
                if getattr(e, "sqlstate", None) != NO_DATABASE:
                    raise
                await asyncio.sleep(RETRY_AFTER)
                before = await self._oid_on(conn)
                await conn.execute(create)
            self.made += 1
            oid = await self._oid_on(conn)
            self._template_is(oid)
            if oid == before:
                return name, oid
            self._drops.append(name)
            self._wake_dropper.set()

    async def _oid_on(self, conn: Any) -> int:
        row = await (await conn.execute(OID, (self.key.template,))).fetchone()
        return int(row[0]) if row else -1

    def _template_is(self, oid: int) -> None:
        """The template's oid is `oid` now: clones of another one are dropped."""
        if self._oid is not None and oid == self._oid:
            return
        if self._oid is not None:
            template = self.key.template
            self._log(f"[stackfixtures] template {template} was rebuilt: new clones from now")
        self._oid = oid
        stale = [n for n, o in self._ready if o != oid]
        self._ready = deque((n, o) for n, o in self._ready if o == oid)
        self._drops.extend(stale)
        self._wake_dropper.set()

    async def _current_oid(self) -> int:
        """The template's oid now, by one query on a connection kept for it (a fraction of a
        millisecond): a template rebuilt since the ready clones were made -- by another
        process too, say `stack up` beside this pytest -- is noticed before one is handed out."""
        try:
            async with self._checking:  # (takes at once: one connection made, one query each)
                if self._checker is None or self._checker.closed:
                    self._checker = await self._connect(self.key.dsn)
                oid = await self._oid_on(self._checker)
        except Exception as e:  # the server went away: this pool is done (another replaces it)
            self._fail(e)
            raise
        self._template_is(oid)
        return oid

    def _deliver(self, name: str, oid: int) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(name)
                return
        if self._closing:
            self._drops.append(name)
            self._wake_dropper.set()
        else:
            self._ready.append((name, oid))

    def _fail(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e
            if not self._closing:
                self._log(f"[stackfixtures] pool of {self.key.template} clones stopped: {e}")
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(e)
        self._waiters.clear()

    def _busy(self) -> bool:
        """Whether drops should wait: tests are waiting for clones and few drops are queued
        (CREATE and DROP compete for the server's disk)."""
        return not self._closing and self._wanted() and len(self._drops) < DROP_BACKLOG

    async def _drop_loop(self) -> None:
        """Drop released clones in bursts, each on a connection of its own; when closing,
        until none is left (a server gone: they are named in the log instead)."""
        try:
            async with await self._connect(self.key.dsn) as conn:
                await self._orphans(conn)
            while True:
                if not self._drops or self._busy():
                    if not self._drops and self._closing and not self._making:
                        return
                    self._wake_dropper.clear()
                    await self._wake_dropper.wait()
                    continue
                async with await self._connect(self.key.dsn) as conn:
                    while self._drops and not self._busy():
                        await self._drop(conn, self._drops[0])
                        self._drops.popleft()
        except Exception as e:
            self._fail(e)

    async def _orphans(self, conn: Any) -> None:
        """Queue the per-test databases left on the server by processes of this host that are
        gone (killed before they dropped them: see owners.py)."""
        rows = await (
            await conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ %s", (owners.LISTED,)
            )
        ).fetchall()
        if left := owners.orphans(r[0] for r in rows):
            self._log(
                f"[stackfixtures] dropping databases left by processes gone: {', '.join(left)}"
            )
            self._drops.extend(left)

    async def _drop(self, conn: Any, name: str) -> None:
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as e:
            if conn.closed:
                raise
            self._log(f"[stackfixtures] could not drop database {name}: {e}")

    def abort(self) -> None:
        """Cut a close short (a second Ctrl-C): the tasks cancelled; clones left are named."""
        self._aborted = True
        for task in self._tasks:
            task.cancel()

    async def aclose(self) -> None:
        """Stop making clones, drop the unused and the released ones (bounded, or cut short by
        abort()), await the tasks. Clones not dropped are named in the log."""
        self._closing = True
        self._drops.extend(name for name, _ in self._ready)
        self._ready.clear()
        self._fail(StackError(f"the pool of {self.key.template} clones is closing"))
        self._wake_makers.set()
        self._wake_dropper.set()
        checker, self._checker = self._checker, None
        if checker is not None:
            await checker.close()
        if not self._tasks:
            return
        why = ""
        try:
            async with asyncio.timeout(CLOSE_BOUND):
                await asyncio.wait(self._tasks)
                if self._drops and not self._aborted:  # the dropper had stopped: once more
                    self._tasks.append(asyncio.create_task(self._drop_rest(), name="pool:drops"))
                    await asyncio.wait(self._tasks)
                    self._tasks[-1].result()
        except TimeoutError:
            why = f"not done in {CLOSE_BOUND:g}s"
        except asyncio.CancelledError:
            why = "cut short"
            raise
        except Exception as e:  # the server is gone (stopped before the stack closed)
            why = str(e).strip()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.wait(self._tasks)
            if self._drops:
                why = why or ("cut short" if self._aborted else "")
                left = ", ".join(self._drops)
                self._log(f"[stackfixtures] clones not dropped ({why}): {left}")

    async def _drop_rest(self) -> None:
        async with await self._connect(self.key.dsn) as conn:
            while self._drops:
                await self._drop(conn, self._drops[0])
                self._drops.popleft()
