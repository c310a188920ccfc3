"""Services of the test HTTP app written as Python definitions, and a Stack of them: what the
engine and supervision tests run (no profile, no project)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import stackfixtures as sf
from stackfixtures._define.graph import Graph
from stackfixtures._define.policies import RestartPolicy

from .conftest import HTTP_APP, PY


def app(
    name: str,
    *args: str,
    deps: tuple[str, ...] = (),
    grace: float | None = 5.0,
    probe: sf.probe.Probe | None = None,
    timeout: float = 30.0,
    restart: RestartPolicy | None = None,
    edges: Mapping[str, str] | None = None,
    liveness: sf.LivenessPolicy | None = None,
) -> sf.ServiceDefinition:
    """A service running tests/apps/http_app.py with `args`, ready when /health answers (or
    `probe` passes), stopped with SIGTERM and `grace` (None: the default stop)."""

    async def run(ctx: sf.ServiceContext) -> AsyncIterator[sf.Handle]:
        async with sf.spawn(
            [PY, HTTP_APP, "--port", "${port}", *args],
            ready=probe or sf.probe.http("/health"),
            stop=None if grace is None else sf.stop("SIGTERM", grace),
        ) as proc:
            yield sf.Handle(url=proc.url, port=proc.port, pid=proc.pid)

    policies: dict[str, Any] = {"restart": restart} if restart is not None else {}
    return sf.ServiceDefinition(
        name=name,
        function=run,
        params=(),
        extra_deps=deps,
        start_timeout=timeout,
        edges=edges or {},
        liveness=liveness,
        **policies,
    )


def stack_of(tmp_path: Path, *defs: sf.ServiceDefinition) -> sf.Stack:
    """A Stack (not started) of `defs`, its state under `tmp_path`."""
    return sf.Stack(Graph({d.name: d for d in defs}), state_dir=tmp_path / "state", root=tmp_path)
