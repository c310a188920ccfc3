"""The stop's tail: how long the stack's own processes outlive its services.

A stack of two plain commands (`sleep`, one depending on the other) is started with `stack
up` and stopped with `stack down`, --runs times. Before the stop, a pidfd is opened on each
service, on the launcher and on its watchdog; one thread polls them all and notes when each
process exits (a pidfd is readable once its process has ended: reaped or not, so a slow
init's reaping is not counted). From the last service's exit, it reports the ms until the
launcher's exit, the watchdog's, the later of the two (`stop_tail_ms`) and until `stack down`
returned (`down_ms`: that one includes its wait for the launcher's reaping by its parent,
which some inits do only every second or so).

Prints one JSON object: {"runs", "stop_tail_ms", "launcher_ms", "watchdog_ms", "down_ms" (medians),
"each": [per run], "processes_left"}. Usage: python bench/stop_tail.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

PROFILE = """
[stack]
services = ["b"]

[services.a]
command = ["sleep", "600"]

[services.b]
command = ["sleep", "600"]
depends_on = ["a"]
"""

STACK = str(Path(sys.executable).parent / "stack")


class Exits:
    """When each of some processes exits (time.perf_counter()), seen through pidfds."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.fds = {os.pidfd_open(pid): name for name, pid in pids.items()}
        self.at: dict[str, float] = {}
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + 60
        while len(self.at) < len(self.fds) and time.monotonic() < deadline:
            for fd, _ in poller.poll(1000):
                now = time.perf_counter()
                self.at.setdefault(self.fds[fd], now)
                poller.unregister(fd)

    def wait(self) -> dict[str, float]:
        self.thread.join(70)
        for fd in self.fds:
            os.close(fd)
        return self.at


def stack(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STACK, *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )


def one_run(root: Path) -> dict[str, float]:
    stack(root, "up", "-p", "tail")
    rows = json.loads(stack(root, "status", "-p", "tail", "--json").stdout)
    launcher = psutil.Process(int(rows["stack"]["launcher_pid"]))
    dog = next(c for c in launcher.children() if "watchdog" in " ".join(c.cmdline()))
    pids = {s["name"]: int(s["pid"]) for s in rows["services"]}
    exits = Exits({**pids, "launcher": launcher.pid, "watchdog": dog.pid})
    stack(root, "down", "-p", "tail")
    returned = time.perf_counter()
    at = exits.wait()
    last = max(at[name] for name in pids)
    ms = {
        "launcher_ms": (at["launcher"] - last) * 1000,
        "watchdog_ms": (at["watchdog"] - last) * 1000,
        "down_ms": (returned - last) * 1000,
    }
    ms["stop_tail_ms"] = max(ms["launcher_ms"], ms["watchdog_ms"])
    return {k: round(v, 1) for k, v in ms.items()}


def measure(runs: int) -> dict[str, Any]:
    """Medians over `runs` stops of the two-command stack (after one run that warms caches)."""
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-stoptail-"))
    root = base / "project"
    (root / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='t'\nversion='0'\n")
    (root / "profiles" / "tail.toml").write_text(PROFILE)
    try:
        one_run(root)
        each = [one_run(root) for _ in range(runs)]
    finally:
        subprocess.run([STACK, "down", "-p", "tail"], cwd=root, capture_output=True, timeout=60)
        left = sum(
            str(root) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
        )
        shutil.rmtree(base, ignore_errors=True)
    keys = ["stop_tail_ms", "launcher_ms", "watchdog_ms", "down_ms"]
    out: dict[str, Any] = {"runs": runs}
    out.update({k: round(statistics.median(r[k] for r in each), 1) for k in keys})
    out["each"] = each
    out["processes_left"] = left
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    json.dump(measure(ap.parse_args().runs), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
