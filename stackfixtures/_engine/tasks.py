"""Task ownership: every task the engine starts has an owner that cancels AND awaits it, and
a cancellation of the owner itself is never swallowed on the way.

`cancel_and_wait` is the one way to end tasks early; `TaskOwner` holds the tasks of something
that is not an `async with` block (a stack between its start and its close)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def being_cancelled() -> bool:
    """Whether the running task itself has been asked to stop (Task.cancel was called on it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel `tasks` and await them all: their outcome (their cancellation, their error) is
    theirs, retrieved here and dropped. If the caller is cancelled meanwhile, or already was,
    the wait still completes and then CancelledError is raised: never swallowed."""
    await cancel_and_wait_out(tasks)


async def cancel_and_wait_out(
    cancel: Iterable[asyncio.Future[Any] | None], wait_out: Iterable[asyncio.Future[Any]] = ()
) -> None:
    """As cancel_and_wait for `cancel`, awaiting `wait_out` to its end too, uncancelled (work
    that ends soon by itself and must not be cut off half-way). Every outcome is marked
    retrieved (asyncio reports none); `wait_out`'s stay for their callers (`.result()`)."""
    found = [t for t in cancel if t is not None]
    for task in found:
        task.cancel()
    found += list(wait_out)
    pending = {t for t in found if not t.done()}
    cancelled = False
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled = True  # ours: finish the wait first, so nothing is left running
        pending = {t for t in pending if not t.done()}
    for task in found:
        if not task.cancelled():
            task.exception()  # retrieved: the caller chose to end it
    if cancelled or being_cancelled():
        raise asyncio.CancelledError


async def to_the_end(
    work: Coroutine[Any, Any, T],
    undo: Callable[[T], Coroutine[Any, Any, Any]] | None = None,
) -> T:
    """`work`'s result, `work` run to its end even when the caller is cancelled meanwhile
    (bookkeeping of what an engine made, a blocking call in a thread: never stopped half-way);
    then, if the caller was cancelled, `undo(result)` runs to its end too and the cancellation
    goes on."""
    task = asyncio.ensure_future(work)
    try:
        await cancel_and_wait_out([], [task])
    except asyncio.CancelledError:
        if undo is not None and not task.cancelled() and task.exception() is None:
            await cancel_and_wait_out([], [asyncio.ensure_future(undo(task.result()))])
        raise
    return task.result()


class TaskOwner:
    """The owner of tasks that outlive the call that started them: `aclose` cancels and awaits
    what is still running. (An error of a task nobody awaited is reported by asyncio, as
    ever: "Task exception was never retrieved".)"""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        if self.closed:
            coro.close()
            raise RuntimeError(f"{self.name} is closed: no new tasks")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def running(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if not t.done()]

    async def aclose(self) -> None:
        """Cancel and await every task still running; no new task can start afterwards."""
        self.closed = True
        await cancel_and_wait(*self._tasks)
