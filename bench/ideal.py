"""The hand-written ideal launcher for bench/targets.py: what a careful script does, importing
only what it uses. It starts PostgreSQL and Valkey at once, waits for each with a real check
(psycopg's SELECT 1, a raw PING) every 2 ms, starts the app, prints its URL, and on SIGTERM
stops the app, Valkey (SHUTDOWN) and PostgreSQL (SIGINT), in order.

Usage: ideal.py STATE POSTGRES_BIN_DIR VALKEY INITDB_ARGS_JSON RUN_AS|- APPS_DIR [--cold]
       ideal.py --commands SPEC_JSON

With --commands it runs the very command lines a profile of plain `command` services runs
(bench/targets.py writes both from one spec: `{"postgres", "redis", "app": argv with "{port}"
for its port, "cwd", "env"}`), checks each server as that profile does (a TCP connect, every
2 ms), and stops each with the profile's signal (SIGTERM; SIGINT for PostgreSQL): only the
launcher differs.

With IDEAL_STEPS=FILE in its environment it also writes when each of its steps happened (JSON,
epoch seconds: bench/warm_steps.py's timeline) and PostgreSQL's output to FILE.postgres.log.
"""

from __future__ import annotations

import time

T0 = time.time()  # (before the imports: the timeline's "started")

import json  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

import psycopg  # noqa: E402

STEPS: dict[str, float] = {"started": T0, "imported": time.time()}


def step(name: str) -> None:
    STEPS[name] = time.time()


def write_steps() -> None:
    if os.environ.get("IDEAL_STEPS"):
        with open(os.environ["IDEAL_STEPS"], "w") as f:
            json.dump(STEPS, f)


def postgres_output() -> object:
    """Where PostgreSQL's output goes: nowhere, or the timeline's file."""
    if not os.environ.get("IDEAL_STEPS"):
        return subprocess.DEVNULL
    return open(os.environ["IDEAL_STEPS"] + ".postgres.log", "wb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_user(user: str) -> dict[str, object]:
    if user == "-":
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def until(check: object) -> None:
    while True:
        try:
            if check() is not False:  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.002)


def redis_call(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(command)
        return s.recv(64)


def tcp_open(port: int) -> None:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()


def commands(spec: dict[str, object]) -> None:
    """The same command lines as the commands profile, launched by hand."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    ports = {name: free_port() for name in ("postgres", "redis", "app")}

    def spawn(name: str, **how: object) -> subprocess.Popen[bytes]:
        argv = [str(a).replace("{port}", str(ports[name])) for a in spec[name]]  # type: ignore[attr-defined]
        return subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            **how,  # type: ignore[arg-type]
        )

    pg, vk = spawn("postgres", stderr=subprocess.DEVNULL), spawn("redis")
    until(lambda: tcp_open(ports["postgres"]))
    until(lambda: tcp_open(ports["redis"]))
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{ports['postgres']}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
    }
    app = spawn("app", cwd=spec["cwd"], env=env)
    print(f"http://127.0.0.1:{ports['app']}/health", flush=True)
    stopping.wait()
    for proc, sig in ((app, signal.SIGTERM), (vk, signal.SIGTERM), (pg, signal.SIGINT)):
        proc.send_signal(sig)
        proc.wait()


def main() -> None:
    if sys.argv[1] == "--commands":
        commands(json.loads(sys.argv[2]))
        return
    state, bindir, valkey, initdb_args, run_as, apps = sys.argv[1:7]
    cold = "--cold" in sys.argv
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    pgdata = os.path.join(state, "pgdata")
    if cold or not os.path.exists(pgdata):
        shutil.rmtree(pgdata, ignore_errors=True)
        os.makedirs(pgdata, mode=0o700)
        if run_as != "-":
            shutil.chown(pgdata, run_as)
        subprocess.run(
            [f"{bindir}/initdb", "-D", pgdata, *json.loads(initdb_args)],
            check=True,
            capture_output=True,
            **as_user(run_as),  # type: ignore[arg-type]
        )
    pg_port, vk_port, app_port = free_port(), free_port(), free_port()
    pg = subprocess.Popen(
        [
            f"{bindir}/postgres",
            "-D",
            pgdata,
            "-p",
            str(pg_port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=postgres_output(),  # type: ignore[arg-type]
        start_new_session=True,
        **as_user(run_as),  # type: ignore[arg-type]
    )
    step("postgres_spawned")
    vk = subprocess.Popen(
        [
            valkey,
            "--port",
            str(vk_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            state,
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    step("redis_spawned")
    dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    until(lambda: psycopg.connect(dsn, connect_timeout=1).close())
    step("postgres_ready")
    until(lambda: redis_call(vk_port, b"PING\r\n").startswith(b"+PONG"))
    step("redis_ready")
    env = {**os.environ, "DATABASE_URL": dsn, "REDIS_URL": f"redis://127.0.0.1:{vk_port}/0"}
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "target_app:app",
            "--port",
            str(app_port),
            "--log-level",
            "warning",
        ],
        cwd=apps,
        env=env,
        start_new_session=True,
    )
    step("app_spawned")
    print(f"http://127.0.0.1:{app_port}/health", flush=True)
    write_steps()
    stopping.wait()
    app.send_signal(signal.SIGTERM)
    app.wait()
    redis_call(vk_port, b"SHUTDOWN\r\n")
    vk.wait()
    pg.send_signal(signal.SIGINT)
    pg.wait()


if __name__ == "__main__":
    main()
