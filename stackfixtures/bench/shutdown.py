"""`stack bench shutdown`: how reliably the stack stops under write traffic, measured.

Each run starts the stack with the real launcher, writes tasks to the gateway (remembering
every id that got a 201), sends SIGTERM to the launcher in the middle of the traffic, and
checks: every service stopped within its grace without SIGKILL; no process of the stack is
left; and, once the stack is started again on the same state dir, every acknowledged task is
there and completes. The restart that verifies run N is the start of run N+1.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..control import detached
from ..control.client import ControlClient
from ..engine.cleanup import reaper


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


class Bench:
    def __init__(
        self, root: Path, profile: str | None, state_dir: Path, service: str, log: Any
    ) -> None:
        self.root = root
        self.profile = profile
        self.state_dir = state_dir
        self.service = service
        self.say = log

    def launch(self) -> tuple[subprocess.Popen[bytes], ControlClient, str]:
        log = self.state_dir / "bench-launcher.log"
        proc = detached.start(detached.launcher_argv(self.state_dir, self.profile), self.root, log)
        try:
            client = detached.wait(
                proc,
                self.state_dir,
                log,
                timeout=180,
                until=lambda c: detached.all_ready(c.get("/status")["stack"]["services"])(c),
            )
        except (detached.LauncherExited, TimeoutError) as e:
            if proc.poll() is None:
                proc.kill()
            raise RuntimeError(f"the stack did not start: {e}") from None
        services = {s["name"]: s for s in client.get("/status")["services"]}
        return proc, client, services[self.service]["endpoint"]

    def verify(self, url: str, ids: list[str], timeout: float = 120.0) -> int:
        """How many of `ids` never complete (zero data loss means 0)."""
        pending = set(ids)
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            while pending and time.monotonic() < deadline:
                for task_id in list(pending):
                    reply = client.get(f"/tasks/{task_id}")
                    if reply.status_code == 200 and reply.json()["status"] == "done":
                        pending.discard(task_id)
                if pending:
                    time.sleep(0.1)
        return len(pending)

    def one_run(
        self, n: int, proc: subprocess.Popen[bytes], client: ControlClient, url: str
    ) -> tuple[RunResult, list[str]]:
        result = RunResult(run=n)
        stack_id = client.get("/status")["stack"]["id"]
        client.close()
        acked: list[str] = []
        stop = threading.Event()

        def write() -> None:
            i = 0
            with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
                while not stop.is_set():
                    i += 1
                    try:
                        reply = http.post("/tasks", json={"payload": f"bench {n}.{i}"})
                    except httpx.HTTPError:
                        if proc.poll() is not None:
                            return
                        time.sleep(0.005)
                        continue
                    if reply.status_code == 201:
                        acked.append(reply.json()["id"])

        writers = [threading.Thread(target=write) for _ in range(2)]
        for w in writers:
            w.start()
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
        stop.set()
        for w in writers:
            w.join()
        result.acknowledged = len(acked)
        try:
            last = json.loads((self.state_dir / "last-run.json").read_text())
        except (OSError, ValueError):
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
    service: str = "api_gateway",
    log: Any = print,
) -> dict[str, Any]:
    bench = Bench(root, profile, state_dir, service, log)
    state_dir.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    proc, client, url = bench.launch()
    for n in range(1, runs + 1):
        result, acked = bench.one_run(n, proc, client, url)
        proc, client, url = bench.launch()  # the restart that verifies this run
        result.lost = bench.verify(url, acked)
        results.append(result)
        log(
            f"run {n}/{runs}: {'ok' if result.success else 'FAILED'}: "
            f"{result.acknowledged} acknowledged, {result.lost} lost, {result.orphans} orphans, "
            f"{'graceful' if result.graceful else 'forced: ' + ', '.join(result.forced)}, "
            f"stop {result.stop_s:.2f}s" + (f", {result.error}" if result.error else "")
        )
    client.close()
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


def write_summary(summary: dict[str, Any], json_file: str | None) -> None:
    if json_file:
        path = Path(json_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(markdown(summary))
