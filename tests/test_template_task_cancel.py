"""A template's sync `after` task cancelled while its code runs in a thread: the cancellation
goes on (not replaced by "generator already executing"), the log says the thread is left to
finish."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import stackfixtures as sf
from stackfixtures.kinds.postgres.template_tasks import run_task


async def test_a_cancelled_sync_task_stays_cancelled() -> None:
    started, finished = threading.Event(), threading.Event()

    def migrate() -> Iterator[None]:
        started.set()
        time.sleep(0.5)  # its work, in the thread the builder runs it in
        finished.set()
        yield

    task = sf.ServiceDefinition(name="migrate", function=migrate, params=())
    lines: list[str] = []
    running = asyncio.create_task(run_task(task, migrate(), lines.append))
    await asyncio.to_thread(started.wait, 10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert any("migrate" in line and "left to finish" in line for line in lines)
    await asyncio.to_thread(finished.wait, 10)  # the thread ends on its own
