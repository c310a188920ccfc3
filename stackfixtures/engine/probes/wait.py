"""Polling a probe until it passes: fast at first so readiness is seen close to when it happens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ...errors import PortInUse, ProbeTimeout, ProcessExited
from ..context import ServiceContext
from .base import Probe

FAST_DELAY = 0.003
FAST_PHASE = 0.3
MAX_DELAY = 0.05


def delay_after(elapsed: float) -> float:
    """Every 3 ms for the first 0.3 s (most servers get ready then, and a probe costs well under
    a millisecond), then growing towards 50 ms so slow starters are not hammered."""
    if elapsed < FAST_PHASE:
        return FAST_DELAY
    return min(MAX_DELAY, FAST_DELAY * (1 + (elapsed - FAST_PHASE) * 20))


async def wait_ready(
    probe: Probe,
    ctx: ServiceContext,
    timeout: float,
    exited: Callable[[], int | None] = lambda: None,
    tail: int = 20,
) -> float:
    """Poll `probe` until it passes; returns the seconds it took.

    Raises ProcessExited as soon as `exited()` reports a return code, and ProbeTimeout after
    `timeout` seconds; both end with the service's log tail.
    """
    start = time.monotonic()
    deadline = start + timeout
    last = ""
    while True:
        code = exited()
        if code is not None:
            await asyncio.sleep(0.05)  # let the output pump catch the last lines
            raise ProcessExited(ctx.name, probe.describe(), code, ctx.log.tail(tail))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(ctx.name, probe.describe(), timeout, last, ctx.log.tail(tail))
        try:
            why = await asyncio.wait_for(probe.check(ctx), remaining)
        except TimeoutError:
            why = "check timed out"
        if why is None:
            _check_listener(ctx)
            return time.monotonic() - start
        last = why
        now = time.monotonic()
        await asyncio.sleep(min(delay_after(now - start), max(0.0, deadline - now)))


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
        raise PortInUse(ctx.name, port, holder, answered=True, log_tail=ctx.log.tail())
