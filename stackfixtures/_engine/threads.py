"""Threads for the code of sync services: at most `limit` at once per stack, and a thread that
is still running when its caller gives up (a start timeout, a cancellation) is abandoned out
loud: `abandoned` is told, so the service's log says so. Python cannot stop a thread; what we
can do is not wait for it (a daemon thread: it holds up neither the loop nor the exit) and
keep its slot taken until it really ends, so a stuck service cannot multiply threads."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

LIMIT = 32
"""Threads one stack runs sync service code in at once (asyncio's own pool has at most 32)."""


class SyncThreads:
    """The threads one stack runs sync service code in."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._loop = asyncio.get_running_loop()
        self.busy = 0  # threads running now (abandoned ones included, until they end)

    def _release(self) -> None:
        self.busy -= 1
        self._slots.release()

    async def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None,
        abandoned: Callable[[str], None],
        name: str = "sync",
    ) -> T:
        """`fn(*args)` in a thread of its own (with the caller's context variables), within
        `timeout` (slot wait included). TimeoutError or CancelledError propagate; if the
        thread was running then, `abandoned(why)` is called first."""
        loop = self._loop
        result: asyncio.Future[T] = loop.create_future()
        result.add_done_callback(_retrieve)  # an abandoned thread's error is nobody's
        context = contextvars.copy_context()

        def work() -> None:
            try:
                value = context.run(fn, *args)
            except BaseException as e:  # handed over to the loop, raised there
                _call_soon(loop, _settle, result, None, e)
            else:
                _call_soon(loop, _settle, result, value, None)
            finally:
                _call_soon(loop, self._release)

        async with asyncio.timeout(timeout) as scope:
            await self._slots.acquire()
            self.busy += 1
            try:
                threading.Thread(target=work, name=f"stackfixtures:{name}", daemon=True).start()
            except BaseException:
                self._release()
                raise
            try:
                return await asyncio.shield(result)
            except asyncio.CancelledError:  # the timeout's, or the caller's: either way
                if not result.done():
                    how = f"timed out after {timeout:g}s" if scope.expired() else "was cancelled"
                    abandoned(f"{how} while its thread still runs: the thread is abandoned")
                raise


def _settle(fut: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """From the thread: the loop may be closed by now (the stack is gone): then nobody waits."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)
