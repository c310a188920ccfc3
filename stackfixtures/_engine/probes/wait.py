"""Polling a probe until it passes: fast at first so readiness is seen close to when it happens.

While it polls, the service's context says what it waits for and the last answer (what the
launcher's progress lines print); a process that exits meanwhile ends the wait at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..._ended import how_it_ended
from ...errors import PortInUse, ProbeTimeout, ProcessExited
from ..context import ServiceContext
from ..tasks import cancel_and_wait
from .base import Probe, describe_for

FAST_DELAY = 0.003
LATE_SHARE = 0.01
MAX_DELAY = 0.05


def delay_after(elapsed: float) -> float:
    """Every 3 ms for the first 0.3 s (most servers get ready then, and a probe costs well under
    a millisecond), then 1% of the time waited so far: readiness is noticed at most 1% late (an
    app that boots in 0.6 s: 6 ms late at most, where a delay growing by 60 ms a second gave
    21 ms), and from 5 s on every 50 ms, so slow starters are not hammered (~280 checks in the
    first 5 s)."""
    return min(MAX_DELAY, max(FAST_DELAY, elapsed * LATE_SHARE))


def _liveness_of(ctx: ServiceContext) -> str:
    """Whether the service's processes still run, for a timeout message."""
    running = [p.pid for p in ctx.processes if p.returncode is None]
    if running:
        return f"its process {', '.join(map(str, running))} is still running"
    gone = [p for p in ctx.processes if p.returncode is not None]
    if gone:
        return f"its process {gone[-1].pid} {how_it_ended(gone[-1].returncode)}"
    return ""


async def _sleep_or_exit(seconds: float, exit_future: asyncio.Future[Any] | None) -> None:
    if exit_future is None:
        await asyncio.sleep(seconds)
    else:
        await asyncio.wait({exit_future}, timeout=seconds)


async def wait_ready(
    probe: Probe,
    ctx: ServiceContext,
    timeout: float,
    exited: Callable[[], int | None] = lambda: None,
    tail: int = 20,
    exit_future: asyncio.Future[Any] | None = None,
) -> float:
    """Poll `probe` until it passes; returns the seconds it took.

    Raises ProcessExited as soon as `exited()` reports a return code (at once when
    `exit_future`, the process's exit, is given), and ProbeTimeout after `timeout` seconds,
    naming the probe's resolved target, its last real answer and whether the process still
    runs; both end with the service's log tail.
    """
    start = time.monotonic()
    deadline = start + timeout
    last = ""
    target = describe_for(probe, ctx)
    ctx.waiting_for, ctx.last_probe_error = target, ""
    try:
        while True:
            code = exited()
            if code is not None:
                await asyncio.sleep(0.05)  # let the output pump catch the last lines
                raise ProcessExited(ctx.name, target, code, ctx.log.tail(tail))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout(
                    ctx.name,
                    target,
                    timeout,
                    last or "no attempt finished",
                    ctx.log.tail(tail),
                    alive=_liveness_of(ctx),
                )
            check = asyncio.ensure_future(_check_within(probe, ctx, remaining))
            waiting: set[asyncio.Future[Any]] = {check}
            if exit_future is not None:
                waiting.add(exit_future)
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:  # cancelled, or the process exited meanwhile (the loop's top says so)
                if not check.done():
                    await cancel_and_wait(check)
            if check.cancelled():
                continue
            try:
                why = check.result()
            except TimeoutError:
                # cut short by the deadline: the last complete answer says more than this
                why = last or f"the check did not finish within {timeout:g}s"
            if why is None:
                _check_listener(ctx)
                return time.monotonic() - start
            last = ctx.last_probe_error = why
            now = time.monotonic()
            await _sleep_or_exit(
                min(delay_after(now - start), max(0.0, deadline - now)), exit_future
            )
    finally:
        ctx.waiting_for = ""


async def _check_within(probe: Probe, ctx: ServiceContext, seconds: float) -> str | None:
    async with asyncio.timeout(seconds):
        return await probe.check(ctx)


def _check_listener(ctx: ServiceContext) -> None:
    """A probe that passed must have reached the service itself, not another process that
    holds its port (a fixed port taken by someone else, a port lost in a race)."""
    port = ctx.port_if_chosen
    pids = [p.pid for p in ctx.processes if p.returncode is None]
    if port is None or not pids:
        return
    from ..listeners import foreign_listener

    holder = foreign_listener(pids, port, ctx.stack_id)
    if holder is not None:
        raise PortInUse(
            ctx.name, port, holder.who, answered=True, log_tail=ctx.log.tail(), remedy=holder.remedy
        )
