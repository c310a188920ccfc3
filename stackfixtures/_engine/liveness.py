"""Liveness: a READY service whose probe keeps failing is DEGRADED, and READY again after a
pass. Checks run at a fixed rate, so a stall is seen within period * threshold + timeout."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .._define.policies import LivenessPolicy
from . import probes
from .context import ServiceContext
from .lifecycle import State

if TYPE_CHECKING:
    from .unit import Unit


def as_probe(spec: Any) -> probes.Probe:
    """A probe object, or one built from a profile table like {"http": "/health"}."""
    return probes.from_spec(spec) if isinstance(spec, dict) else spec  # type: ignore[no-any-return]


async def watch(unit: Unit, ctx: ServiceContext, policy: LivenessPolicy) -> None:
    """Check `policy.probe` until cancelled (or this incarnation is over), moving the unit
    between READY and DEGRADED."""
    probe = as_probe(policy.probe)
    failures = 0
    start = time.monotonic()
    n = 0
    # Python 3.11's wait_for can swallow a cancellation that arrives as the check finishes; a
    # loop built on it then never ends (seen: a launcher spinning after its stack closed).
    # asyncio.timeout keeps cancellations, and the loop also ends with its incarnation.
    while unit.ctx is ctx and unit.state in (State.READY, State.DEGRADED):
        n += 1
        await asyncio.sleep(max(0.0, start + n * policy.period - time.monotonic()))
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(policy.timeout):
                why = await probe.check(ctx)
        except TimeoutError:
            why = f"no answer within {policy.timeout:g}s"
        except Exception as e:  # a probe that breaks is a failing probe
            why = f"{type(e).__name__}: {e}"
        unit.checked(why, round((time.monotonic() - t0) * 1000, 2))
        if why is None:
            failures = 0
            if unit.state is State.DEGRADED:
                unit.lifecycle.move(State.READY, f"liveness probe {probe.describe()} passes again")
            continue
        failures += 1
        if failures >= policy.failure_threshold and unit.state is State.READY:
            unit.lifecycle.move(
                State.DEGRADED,
                f"liveness probe {probe.describe()} failed {failures} times in a row: {why}",
            )
