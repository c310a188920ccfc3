"""The one helper that ends tasks early (_engine/tasks.py): it awaits what it cancels, and a
cancellation of its caller is raised, never swallowed. Pure asyncio: no process is started."""

from __future__ import annotations

import asyncio

import pytest

from stackfixtures._engine.tasks import TaskOwner, cancel_and_wait


async def slow_to_end(ended: list[str], started: asyncio.Event) -> None:
    """A task whose clean-up after a cancellation takes a while (a probe killing its child)."""
    try:
        started.set()
        await asyncio.sleep(3600)
    finally:
        await asyncio.shield(asyncio.sleep(0.2))
        ended.append("ended")


async def test_it_awaits_what_it_cancels() -> None:
    ended: list[str] = []
    started = asyncio.Event()
    task = asyncio.create_task(slow_to_end(ended, started))
    await started.wait()
    await cancel_and_wait(task, None)
    assert task.cancelled() and ended == ["ended"]


async def test_a_cancelled_caller_is_cancelled_once_the_tasks_are_over() -> None:
    ended: list[str] = []
    started = asyncio.Event()
    inner = asyncio.create_task(slow_to_end(ended, started))
    await started.wait()
    caller = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0.05)  # the caller now waits for the inner task's clean-up
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert ended == ["ended"]  # it still waited: nothing left running


async def test_a_task_error_is_not_the_callers() -> None:
    async def fails() -> None:
        raise RuntimeError("its own")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)  # its error is retrieved, not raised (nor warned about)


async def test_an_owner_cancels_and_awaits_and_then_refuses() -> None:
    owner = TaskOwner("test")
    ended: list[str] = []
    started = asyncio.Event()
    owner.spawn(slow_to_end(ended, started), "slow")
    await started.wait()
    await owner.aclose()
    assert ended == ["ended"] and owner.running() == []

    async def late() -> None: ...

    coro = late()
    with pytest.raises(RuntimeError, match="closed"):
        owner.spawn(coro, "late")


async def test_a_stack_s_helpers_close_to_their_end_even_when_cancelled_twice() -> None:
    """resources.close cut short by its caller's cancellation (a second one arriving while it
    waits for the aborted close): every helper's close still runs to its end, awaited, and
    the cancellation is raised afterwards."""
    from stackfixtures._engine import resources

    release, closed, aborted = asyncio.Event(), [], []

    class Helper:
        def __init__(self, name: str) -> None:
            self.name = name

        async def aclose(self) -> None:
            await release.wait()
            closed.append(self.name)

        def abort(self) -> None:
            aborted.append(self.name)

    held = resources.of("test-stack")
    held.add("a", Helper("a"))
    held.add("b", Helper("b"))
    closing = asyncio.create_task(resources.close("test-stack"))
    await asyncio.sleep(0.01)
    closing.cancel()  # the first: the close is aborted, then awaited
    await asyncio.sleep(0.01)
    closing.cancel()  # the second, while it waits
    await asyncio.sleep(0.01)
    assert not closing.done()  # still waiting for the helpers' close
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert closed == ["b", "a"] and sorted(aborted) == ["a", "b"]
