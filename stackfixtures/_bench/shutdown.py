"""`stack bench shutdown`: how reliably a stack stops under traffic, measured.

Each run starts the profile's stack with the real launcher, runs the project's workload
(_bench/workload.py) in several threads, sends SIGTERM to the launcher in the middle of the
traffic, and checks: every service stopped within its grace without SIGKILL; no process of the
stack is left; and, once the stack is started again on the same state dir, the workload finds
everything it had acknowledged. The restart that verifies run N is the start of run N+1.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import _launcher as launcher
from .._control import last_run
from .._control.remote import RemoteControl
from .._engine import state_dirs
from .._engine.cleanup import reaper
from .._launcher import detached
from .workload import Workload, Writers


@dataclass
class RunResult:
    run: int
    acknowledged: int = 0
    graceful: bool = False
    forced: list[str] = field(default_factory=list)
    exit_code: int | None = None
    orphans: int = 0
    lost: int = 0
    stop_s: float = 0.0
    slowest_service: str = ""
    slowest_service_stop_s: float = 0.0
    error: str = ""

    @property
    def success(self) -> bool:
        return self.graceful and self.orphans == 0 and self.lost == 0 and not self.error


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def ready_handles(control: RemoteControl) -> dict[str, Any]:
    """The handles of the stack's ready services: what a workload writes through."""
    names = [s["name"] for s in control.status()["services"] if s["state"] == "ready"]
    return {n: control.handle(n) for n in names}


class Bench:
    """Starts the profile's launcher on one state dir, again and again."""

    def __init__(
        self, root: Path, profile: str | None, state_dir: Path, workload: Workload, writers: int
    ) -> None:
        self.root = root
        self.profile = profile
        self.state_dir = state_dir
        self.workload = workload
        self.writers = writers

    def start_launcher(self) -> tuple[subprocess.Popen[bytes], RemoteControl, dict[str, Any]]:
        log = self.state_dir / "bench-launcher.log"
        opts = launcher.Options(profile=self.profile, state_dir=str(self.state_dir))
        try:
            proc, control = detached.start_detached(opts, self.root, log, 180)
        except (detached.LauncherExited, TimeoutError) as e:  # either way, it is gone
            raise RuntimeError(f"the stack did not start: {e}") from None
        return proc, control, ready_handles(control)

    def one_run(
        self, n: int, proc: subprocess.Popen[bytes], control: RemoteControl, handles: dict[str, Any]
    ) -> tuple[RunResult, list[Any]]:
        result = RunResult(run=n)
        stack_id = control.endpoint.stack_id
        control.close()
        writers = Writers(self.workload, handles, self.writers).start()
        time.sleep(random.uniform(0.2, 0.6))  # SIGTERM lands at a random point of the traffic
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            result.exit_code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            result.exit_code = proc.wait()
            result.error = "the launcher did not exit within 120 s"
        result.stop_s = round(time.monotonic() - t0, 3)
        acked = writers.stop()
        result.acknowledged = len(acked)
        last = last_run.read(self.state_dir)
        if not last:
            last = {"stops": []}
            result.error = result.error or "the launcher left no stop record"
        result.forced = [s["service"] for s in last["stops"] if not s["graceful"]]
        result.graceful = result.exit_code == 0 and not result.forced
        if last["stops"]:
            slowest = max(last["stops"], key=lambda s: s["duration_s"])
            result.slowest_service = slowest["service"]
            result.slowest_service_stop_s = slowest["duration_s"]
        result.orphans = self.orphans(stack_id)
        return result, acked

    @staticmethod
    def orphans(stack_id: str) -> int:
        """Processes of the stack still alive 2 s after its launcher exited (then stopped)."""
        deadline = time.monotonic() + 2
        left = reaper.marked(stack_id)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = reaper.marked(stack_id)
        if left:
            reaper.kill_all(left)
        return len(left)


def run(
    root: Path,
    profile: str | None,
    runs: int,
    state_dir: Path,
    workload: Workload,
    writers: int = 2,
    log: Any = print,
) -> dict[str, Any]:
    """`runs` times: start, traffic, SIGTERM mid-traffic, check; the summary as a dict."""
    bench = Bench(root, profile, state_dir, workload, writers)
    state_dirs.make(state_dir, "stack bench shutdown", profile, root)
    results: list[RunResult] = []
    proc, control, handles = bench.start_launcher()
    for n in range(1, runs + 1):
        result, acked = bench.one_run(n, proc, control, handles)
        proc, control, handles = bench.start_launcher()  # the restart that verifies this run
        result.lost = workload.verify(handles, acked)
        results.append(result)
        log(
            f"run {n}/{runs}: {'ok' if result.success else 'FAILED'}: "
            f"{result.acknowledged} acknowledged, {result.lost} lost, {result.orphans} orphans, "
            f"{'graceful' if result.graceful else 'forced: ' + ', '.join(result.forced)}, "
            f"stop {result.stop_s:.2f}s" + (f", {result.error}" if result.error else "")
        )
    control.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    successes = sum(r.success for r in results)
    return {
        "runs": runs,
        "successes": successes,
        "success_rate": round(successes / runs, 4) if runs else 0.0,
        "ci95": list(wilson(successes, runs)),
        "lost_writes": sum(r.lost for r in results),
        "orphans": sum(r.orphans for r in results),
        "forced_stops": sum(len(r.forced) for r in results),
        "slowest_stop_s": max((r.stop_s for r in results), default=0.0),
        "per_run": [{**asdict(r), "success": r.success} for r in results],
    }


def markdown(summary: dict[str, Any]) -> str:
    lo, hi = summary["ci95"]
    return (
        "### stack bench shutdown\n\n"
        "| runs | successes | success rate | 95 % CI | lost writes | orphans | forced stops "
        "| slowest stop |\n|---|---|---|---|---|---|---|---|\n"
        f"| {summary['runs']} | {summary['successes']} | {summary['success_rate']:.2%} "
        f"| {lo:.2%} to {hi:.2%} | {summary['lost_writes']} | {summary['orphans']} "
        f"| {summary['forced_stops']} | {summary['slowest_stop_s']:.2f} s |\n"
    )


def write_summary(
    summary: dict[str, Any],
    json_file: str | None,
    markdown: Callable[[dict[str, Any]], str] = markdown,
) -> None:
    """The summary as JSON to `json_file` (if given), and as Markdown to GitHub's step
    summary when it runs there."""
    if json_file:
        path = Path(json_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(markdown(summary))
