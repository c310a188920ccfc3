"""Structured concurrency in the engine: every task it starts has an owner that cancels and
awaits it (nothing is left pending after a close), a cancellation is never swallowed (during a
probe, a stop, a restart), and a sync service's thread left running is said out loud."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

import stackfixtures as sf
from stackfixtures._define.graph import Graph
from stackfixtures._engine.lifecycle import State
from stackfixtures._engine.probes import wait_ready
from stackfixtures._engine.process import Process

from .conftest import PY, until

pytestmark = pytest.mark.slow  # starts processes (tests/spawns.py)

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('up', flush=True)\n"
    "time.sleep(120)\n"
)
"""A server that ignores SIGTERM: its stop takes the whole grace."""


def stack_of(tmp_path: Path, *defs: sf.ServiceDefinition) -> sf.Stack:
    return sf.Stack(Graph({d.name: d for d in defs}), state_dir=tmp_path / "state", root=tmp_path)


def server(name: str, ready: sf.probe.Probe, deps: tuple[str, ...] = ()) -> sf.ServiceDefinition:
    async def run(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
        async with sf.spawn([PY, "-c", STUBBORN], ready=ready, stop=sf.stop("SIGTERM", 60)) as p:
            yield sf.Handle(pid=p.pid)

    return sf.ServiceDefinition(name=name, function=run, params=(), extra_deps=deps)


def others() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_a_cancelled_start_leaves_no_task_pending(tmp_path: Path) -> None:
    before = others()
    stack = stack_of(
        tmp_path,
        server("db", sf.probe.log("up")),
        server("app", sf.probe.log("never printed"), deps=("db",)),
    )
    starting = asyncio.create_task(stack.start(["app"]))
    await until(lambda: stack.state("app") is State.STARTING)
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    stack.force()  # (no grace: the servers ignore SIGTERM)
    await stack.close()
    assert others() - before == set()  # no pump, watcher, waiter or life left pending


async def test_cancelling_during_a_probe_raises_cancelled_error(tmp_path: Path) -> None:
    """The process exits while a probe's check is still ending; a cancellation that arrives
    then is the caller's: wait_ready raises it, not ProcessExited."""

    class SlowToEnd:
        def __init__(self) -> None:
            self.ending = asyncio.Event()

        def describe(self) -> str:
            return "a check that takes a while to end"

        async def check(self, ctx: sf.ServiceContext) -> str | None:
            try:
                await asyncio.sleep(3600)
            finally:
                self.ending.set()
                await asyncio.sleep(0.5)
            return None

    stack = stack_of(tmp_path, server("svc", sf.probe.log("up")))
    ctx = stack.context_for(stack.units["svc"])
    proc = await Process.start(ctx, [PY, "-c", "import time; time.sleep(0.2)"], None, ".", None)
    ctx.processes.append(proc)
    probe = SlowToEnd()
    waiting = asyncio.create_task(
        wait_ready(probe, ctx, 60, lambda: proc.returncode, exit_future=proc.exit_future)
    )
    async with asyncio.timeout(30):
        await probe.ending.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await proc.stop(ctx.stop_policy())
    await stack.close()


async def test_cancelling_a_life_during_its_stop_raises_and_kills(tmp_path: Path) -> None:
    stack = stack_of(tmp_path, server("svc", sf.probe.log("up")))
    handles = await stack.start()
    pid = handles["svc"].pid
    life = stack.units["svc"].task
    assert life is not None
    stopping = asyncio.create_task(stack.stop())
    await until(lambda: stack.state("svc") is State.STOPPING)
    await asyncio.sleep(0.1)  # in its teardown now, waiting out the grace
    life.cancel()
    await asyncio.wait([life])
    assert life.cancelled()  # not swallowed as "teardown raised CancelledError"
    assert gone(pid)  # cancelled mid-stop: killed at once, not left running
    await stopping
    await stack.close()


async def test_cancelling_a_restart_raises_cancelled_error(tmp_path: Path) -> None:
    starts: list[int] = []

    async def run(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
        starts.append(1)
        if len(starts) > 1:  # the restart's start: still under way when it is cancelled
            await asyncio.Event().wait()
        yield sf.Handle()

    stack = stack_of(tmp_path, sf.ServiceDefinition(name="svc", function=run, params=()))
    await stack.start()
    restarting = asyncio.create_task(stack.restart("svc"))
    await until(lambda: len(starts) == 2)
    restarting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await restarting
    await stack.close()
    assert others() == set()


async def test_cancelling_a_life_during_back_off_raises(tmp_path: Path) -> None:
    async def crashes(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
        raise RuntimeError("boom")
        yield sf.Handle()  # pragma: no cover

    definition = sf.ServiceDefinition(
        name="svc",
        function=crashes,
        params=(),
        restart=sf.restart("always", backoff="fixed", delay=60, jitter=0),
    )
    stack = stack_of(tmp_path, definition)
    starting = asyncio.create_task(stack.start())
    await until(lambda: stack.state("svc") is State.BACKOFF)
    life = stack.units["svc"].task
    assert life is not None
    life.cancel()
    await asyncio.wait([life])
    assert life.cancelled()
    with pytest.raises(sf.StartError):
        await starting
    await stack.close()


async def test_an_abandoned_sync_thread_is_said_and_bounded(tmp_path: Path) -> None:
    release = threading.Event()

    def hangs(ctx: sf.ServiceContext) -> Iterator[sf.Handle]:
        release.wait(60)
        yield sf.Handle()

    definition = sf.ServiceDefinition(name="stuck", function=hangs, params=(), start_timeout=0.2)
    stack = stack_of(tmp_path, definition)
    try:
        with pytest.raises(sf.StartError, match="start timeout"):
            await stack.start()
        said = [e for e in stack.events.events if e.extra.get("thread") == "abandoned"]
        assert said and said[0].service == "stuck" and "timed out" in said[0].reason
        assert "stuck: its sync code timed out" in "\n".join(stack.units["stuck"].log.tail())
        assert stack.threads.busy == 1  # still counted against the bound until it ends
    finally:
        release.set()
        await stack.close()
    await until(lambda: stack.threads.busy == 0)


async def test_a_process_pump_is_over_once_its_output_is_let_go(tmp_path: Path) -> None:
    """finish_output gives a pipe held open (the process still runs) a second, then ends the
    pump: over when it returns, not merely asked to stop."""
    stack = stack_of(tmp_path, server("svc", sf.probe.log("up")))
    ctx = stack.context_for(stack.units["svc"])
    proc = await Process.start(ctx, [PY, "-c", STUBBORN], None, ".", None)
    try:
        await proc.finish_output()
        assert proc._pump.done()
    finally:
        await proc.kill_now()
    await stack.close()
