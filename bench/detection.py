"""How fast the engine notices failures.

kill -9 of a READY service -> its FAILED event (noticed from the process itself, no polling);
SIGSTOP -> DEGRADED, against the configured bound period * failure_threshold + timeout.
Prints one JSON object: {"kill9_to_event_ms", "sigstop_to_degraded_s", "degraded_bound_s"}
(medians of --runs). Usage: python bench/detection.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import stackfixtures as sf
from stackfixtures._define.graph import Graph
from stackfixtures._engine.events import Event
from stackfixtures._engine.lifecycle import State

APP = str(Path(__file__).resolve().parent.parent / "tests" / "apps" / "http_app.py")
LIVE = sf.liveness(sf.probe.http("/health"), period=0.5, timeout=0.5, failure_threshold=3)


@sf.service(
    restart=sf.restart("on-failure", backoff="fixed", delay=0.05, jitter=0, max_restarts=1000),
    liveness=LIVE,
)
async def target(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
    async with sf.spawn(
        [sys.executable, APP, "--port", "${port}"], ready=sf.probe.http("/health")
    ) as proc:
        yield sf.Handle(pid=proc.pid)


async def next_event(stack: sf.Stack, target_state: str, after: int) -> Event:
    while True:
        for e in stack.events.events[after:]:
            if e.target == target_state and e.source != e.target:
                return e
        await asyncio.sleep(0.001)


async def measure(runs: int, state: Path) -> dict[str, float]:
    stack = sf.Stack(Graph({"target": target}), state_dir=state, root=state)
    kills, stalls = [], []
    try:
        await stack.start()
        for _ in range(runs):
            await stack.start()  # ready again after the previous round
            pid = stack.processes("target")[0].pid
            mark = len(stack.events.events)
            t0 = time.time()
            os.kill(pid, signal.SIGKILL)
            failed = await next_event(stack, "failed", mark)
            kills.append((failed.time - t0) * 1000)
            while stack.state("target") is not State.READY:
                await asyncio.sleep(0.01)
        for _ in range(max(3, runs // 3)):
            while stack.units["target"].health != "ok":
                await asyncio.sleep(0.01)
            mark = len(stack.events.events)
            t0 = time.time()
            stack.pause("target")
            degraded = await next_event(stack, "degraded", mark)
            stalls.append(degraded.time - t0)
            stack.resume("target")
            await next_event(stack, "ready", mark)
    finally:
        await stack.close()
    return {
        "kill9_to_event_ms": round(statistics.median(kills), 2),
        "sigstop_to_degraded_s": round(statistics.median(stalls), 3),
        "degraded_bound_s": LIVE.bound,
        "runs": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="stackfixtures-detect-") as tmp:
        out = asyncio.run(measure(args.runs, Path(tmp)))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
