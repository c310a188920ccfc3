"""Where a warm start's time goes, step by step: `stack run` of bench/targets.py's stack (the
compiled profile a hit, the cluster already there) against bench/ideal.py, interleaved, in one
run. Each step is in milliseconds since the launch (`time.time()` just before the process is
started), median of --runs:

stack: `first_line` (the launcher's first line reached us), `loaded` (its first event: the
profile loaded, the stack built), `<service>_starting` (its STARTING event), `<service>_spawn`
(the engine's `exec:` line, written just before the process is started), `postgres_output`
(its first line of its own), `<service>_accepting` (the server's "ready to accept
connections" line: PostgreSQL's own timestamp, Valkey's when it reached the launcher),
`<service>_ready` (its READY event: the probe noticed), `app_seen` (our own GET /health
passed, as bench/targets.py measures "ready").
ideal: `started`, `imported`, `<service>_spawn`, `postgres_accepting` (its log's timestamp),
`<service>_ready` (its check passed), `app_spawn`, `app_seen`.

With --before DIR (a checkout of another version of stackfixtures, e.g. `git archive main`
unpacked), that version's `stack run` is timed too, in a root of its own, interleaved: its
steps under "before" (PYTHONPATH=DIR: its package instead of the installed one).

Prints one JSON object: {"runs", "stack": {step: ms}, "ideal": {step: ms}, "before": {step:
ms} with --before, and each run's under "stack_runs", "ideal_runs", "before_runs"}.
Usage: python bench/warm_steps.py [--runs N] [--before DIR]
"""

from __future__ import annotations

import argparse
import datetime
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

import targets

STACK = str(Path(sys.executable).parent / "stack")


def pg_stamp(line: str) -> float | None:
    """The epoch time PostgreSQL wrote at a log line's start (`2026-12-06 22:37:35.393 UTC`)."""
    try:
        at = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return None
    return at.replace(tzinfo=datetime.UTC).timestamp()


def first(lines: list[dict[str, Any]], service: str, text: str) -> float | None:
    for said in lines:
        if said["service"] == service and text in said["line"]:
            return float(said["time"])
    return None


def stack_steps(root: Path, state: Path, code: str | None = None) -> dict[str, float]:
    """The steps of one `stack run` (of the package in `code` when given)."""
    env = {**os.environ, "NO_COLOR": "1", **({"PYTHONPATH": code} if code else {})}
    t0 = time.time()
    proc = subprocess.Popen(
        [STACK, "run", "--no-tui", "-p", "target", "--state-dir", str(state)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert proc.stdout is not None
    steps: dict[str, float] = {}
    url = ""
    for line in proc.stdout:
        steps.setdefault("first_line", time.time())
        words = line.split()
        if words[:2] == ["app", "ready"]:
            url = next(w for w in words if w.startswith("http://")) + "/health"
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    try:
        targets.wait_http(url)
        steps["app_seen"] = time.time()
        said = subprocess.run(
            [STACK, "logs", "--json", "-t", "-n", "all", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        lines = [json.loads(x) for x in said.splitlines() if x.startswith("{")]
        for service in ("postgres", "redis", "app"):
            spawn = first(lines, service, "[stackfixtures] exec: ")
            if spawn is not None:
                steps[f"{service}_spawn"] = spawn
        output = first(lines, "postgres", "starting PostgreSQL")
        if output is not None:
            steps["postgres_output"] = output
        for said_line in lines:
            if "database system is ready to accept connections" in said_line["line"]:
                stamp = pg_stamp(said_line["line"])
                if stamp is not None:
                    steps["postgres_accepting"] = stamp
        accepting = first(lines, "redis", "Ready to accept connections")
        if accepting is not None:
            steps["redis_accepting"] = accepting
        events = [json.loads(x) for x in (state / "events.jsonl").read_text().splitlines()]
        mine = [e for e in events if e["time"] >= t0]
        steps["loaded"] = mine[0]["time"]
        for e in mine:
            if e.get("to") in ("starting", "ready"):
                steps.setdefault(f"{e['service']}_{e['to']}", e["time"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return {k: round((v - t0) * 1000, 1) for k, v in steps.items()}


def ideal_steps(ideal_dir: Path, tmp: Path) -> dict[str, float]:
    record = tmp / "ideal-steps.json"
    record.unlink(missing_ok=True)
    os.environ["IDEAL_STEPS"] = str(record)
    try:
        t0 = time.time()
        result = targets.ideal(ideal_dir, cold=False)  # launched, ready, stopped
        seen = t0 + result["ready_s"]
    finally:
        del os.environ["IDEAL_STEPS"]
    steps: dict[str, float] = {
        k.replace("_spawned", "_spawn"): v for k, v in json.loads(record.read_text()).items()
    }
    steps["app_seen"] = seen
    log = Path(str(record) + ".postgres.log").read_text(errors="replace")
    for line in log.splitlines():
        if "database system is ready to accept connections" in line:
            stamp = pg_stamp(line)
            if stamp is not None:
                steps["postgres_accepting"] = stamp
    return {k: round((v - t0) * 1000, 1) for k, v in steps.items()}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted(
        {k for r in runs for k in r}, key=lambda k: statistics.median(r[k] for r in runs if k in r)
    )
    return {k: round(statistics.median(r[k] for r in runs if k in r), 1) for k in keys}


def project(root: Path) -> Path:
    """bench/targets.py's warm profile (the cluster cached, the profile compiled) in `root`."""
    (root / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='t'\nversion='0'\n")
    (root / "profiles" / "target.toml").write_text(
        targets.PROFILE.format(py=sys.executable, apps=targets.APPS).replace("CACHE", "true")
    )
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--before", help="a checkout of the version to compare with")
    args = ap.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-warm-steps-"))
    base.chmod(0o755)
    code = str(Path(args.before).resolve()) if args.before else None
    sides = {"stack": (project(base / "warm"), None)}
    if code:
        sides["before"] = (project(base / "before"), code)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in [*sides, "ideal"]}
    try:
        ideal_dir = base / "ideal"
        ideal_dir.mkdir()
        order = [*sides, "ideal"]
        for i in range(args.runs + 2):  # the first two: the cluster, the compiled profile,
            for name in order[i % len(order) :] + order[: i % len(order)]:  # bytecode; then
                if name == "ideal":  # every start hits. Each side in turn first: none always
                    steps = ideal_steps(ideal_dir, base)  # follows another's stop
                else:
                    root, pkg = sides[name]
                    steps = stack_steps(root, root / "state", pkg)
                if i >= 2:
                    runs[name].append(steps)
        out: dict[str, Any] = {"runs": args.runs}
        out.update({name: medians(r) for name, r in runs.items()})
        out.update({f"{name}_runs": r for name, r in runs.items()})
    finally:
        time.sleep(1)
        left = targets.leftovers(base)
        shutil.rmtree(base, ignore_errors=True)
    out["processes_left"] = left
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
