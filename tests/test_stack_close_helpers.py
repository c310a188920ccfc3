"""A stack's shared helpers (e.g. `postgres_db`'s pools) never keep its services running: a
helper whose close fails still lets every service stop, and a second Ctrl-C (force) cuts a
helper's slow close short, its own task cancelled and awaited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest

from stackfixtures._engine import resources

from .test_engine import app, stack_of

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)


class Helper:
    """A helper with a background task of its own whose close fails or never ends."""

    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.task = asyncio.create_task(asyncio.Event().wait())

    async def aclose(self) -> None:
        if self.fails:
            raise RuntimeError("the helper's close failed")
        await asyncio.wait([self.task])  # ends only when abort() cancels it

    def abort(self) -> None:
        self.task.cancel()


async def test_a_failing_helper_close_still_stops_the_services(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("a"))
    pid = (await stack.start(["a"]))["a"].pid
    resources.of(stack.stack_id).add("helper", Helper(fails=True))
    with pytest.raises(RuntimeError, match="close failed"):
        await stack.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert stack.running() == []


async def test_force_cuts_a_slow_helper_close_short(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, app("a"))
    await stack.start(["a"])
    helper = Helper(fails=False)
    resources.of(stack.stack_id).add("helper", helper)
    closing = asyncio.create_task(stack.close())
    await asyncio.sleep(0.2)
    assert not closing.done()  # the helper's close is under way
    stack.force()
    async with asyncio.timeout(30):
        await closing
    assert helper.task.cancelled()
    assert stack.running() == []
