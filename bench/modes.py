"""Single-process versus multi-process backend: private memory and time to ready.

For a gateway and 3 agents (the dev profile), each mode is started --runs times (after one
warm-up run that initialises data), 20 tasks are pushed through, and the private memory (USS)
and proportional memory (PSS) of the backend's Python processes are summed.
Prints one JSON object: {"single": {"uss_mb", "pss_mb", "ready_s", "processes"},
"multi": {...}, "reduction": 1 - single.uss_mb / multi.uss_mb}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from stackfixtures import Stack
from stackfixtures import _project as projects

ROOT = Path(__file__).resolve().parent.parent


async def one_run(mode: str, state: Path) -> dict[str, float]:
    proj = projects.load("dev", root=ROOT)
    stack = Stack(proj.graph, state_dir=state, root=ROOT, mode=mode)
    t0 = time.perf_counter()
    try:
        handles = await stack.start(["agents"])
        ready = time.perf_counter() - t0
        gateway, agents = stack.handle("api_gateway"), handles["agents"]
        async with httpx.AsyncClient(base_url=gateway.url, trust_env=False) as client:
            ids = [
                (await client.post("/tasks", json={"payload": str(i)})).json()["id"]
                for i in range(20)
            ]
            for task_id in ids:
                while (await client.get(f"/tasks/{task_id}")).json()["status"] != "done":
                    await asyncio.sleep(0.02)
        pids = sorted({gateway.pid, *agents.pids})
        infos = [psutil.Process(pid).memory_full_info() for pid in pids]
        return {
            "uss_mb": sum(i.uss for i in infos) / 2**20,
            "pss_mb": sum(i.pss for i in infos) / 2**20,
            "ready_s": ready,
            "processes": len(pids),
        }
    finally:
        await stack.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-modes-"))
    base.chmod(0o755)
    out: dict[str, Any] = {"runs": args.runs}
    try:
        for mode in ("single", "multi"):
            state = base / mode
            asyncio.run(one_run(mode, state))  # warm-up: initdb/copy, first imports
            runs = [asyncio.run(one_run(mode, state)) for _ in range(args.runs)]
            out[mode] = {
                k: round(statistics.median(r[k] for r in runs), 3)
                for k in ("uss_mb", "pss_mb", "ready_s", "processes")
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out["reduction"] = round(1 - out["single"]["uss_mb"] / out["multi"]["uss_mb"], 3)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
