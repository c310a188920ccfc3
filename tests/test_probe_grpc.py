"""`ready = { grpc = ... }` and `liveness = { grpc = ... }`: the standard grpc.health.v1 check
against a real gRPC server (tests/apps/grpc_health_app.py: grpcio and its HealthServicer),
whose health the test turns by writing files, never by waiting for a delay."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import stackfixtures as sf
from stackfixtures import _project as projects
from stackfixtures._engine import status
from stackfixtures._engine.lifecycle import State
from stackfixtures._engine.probes import registry
from stackfixtures._export import compose, k8s
from stackfixtures.errors import ProbeTimeout, ProfileError

from . import compose_binary
from .conftest import APPS, PY, until, write_project
from .test_export import validate_k8s

GRPC_APP = str(APPS / "grpc_health_app.py")

PROFILE = """
[services.api]
command = ["{PY}", "GRPC_APP", "--port", "${port}", "--service", "shop.Cart",
           "--serving-when", "DIR/serving", "--not-serving-when", "DIR/sick"]
ready = { grpc = "${port}/shop.Cart" }
liveness = { grpc = "${port}", period = 0.1, timeout = 2, failure_threshold = 2 }

[services.bare]
command = ["{PY}", "GRPC_APP", "--port", "${port}", "--no-health"]
ready = { tcp = "${port}" }
"""


def profile(text: str, folder: Path) -> str:
    return text.replace("GRPC_APP", GRPC_APP).replace("DIR", str(folder))


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port of this machine where nothing listens (bound here, never listening, so no one
    else takes it while the test runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.slow
async def test_ready_only_once_serving_and_degraded_while_not(
    tmp_path: Path, make_stack: Any, refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack(tmp_path, profile(PROFILE, tmp_path))
    starting = asyncio.ensure_future(stack.start())
    try:
        # the server runs and answers, but NOT_SERVING: the service is not ready, and says why
        await until(lambda: _last_answer(stack, "api") == "NOT_SERVING", timeout=30)
        api = stack.units["api"]
        assert api.state is State.STARTING and not starting.done()
        line = status.progress(stack, api, time.monotonic(), 0)
        port = api.ctx.port
        assert f"waiting for grpc 127.0.0.1:{port}/shop.Cart (last: NOT_SERVING)" in line
        serving_at = time.time()
        (tmp_path / "serving").touch()
        async with asyncio.timeout(30):
            await starting
        ready = [e for e in stack.events.events if e.service == "api" and e.target == "ready"]
        assert len(ready) == 1 and ready[0].time >= serving_at

        # the other answers, in words, from real servers; directly, as the tcp and http
        # probes connect, even where the environment names a proxy (here one that is not there)
        monkeypatch.setenv("grpc_proxy", f"http://127.0.0.1:{refusing_port}")
        ctx = api.ctx
        bare = stack.units["bare"].ctx.port
        unknown = "SERVICE_UNKNOWN (the server knows no service 'shop.Nope')"
        assert await sf.probe.grpc("${port}/shop.Nope").check(ctx) == unknown
        no_health = "UNIMPLEMENTED (the server has no grpc.health.v1 health service)"
        assert await sf.probe.grpc(bare).check(ctx) == no_health
        refused = "unreachable: connection refused (nothing listens there)"
        assert await sf.probe.grpc(f"127.0.0.1:{refusing_port}").check(ctx) == refused

        # liveness: NOT_SERVING twice in a row degrades it (not restarted); SERVING recovers
        await until(lambda: api.health == "ok", timeout=30)
        pid = api.ctx.processes[0].pid
        (tmp_path / "sick").touch()
        await stack.wait_for("api", State.DEGRADED, timeout=30)
        degraded = next(e for e in stack.events.events if e.target == "degraded")
        assert degraded.reason == (
            "liveness probe grpc ${port} failed 2 times in a row: NOT_SERVING"
        )
        seen = stack.metrics("api")  # what `stack status` shows
        assert seen["health"] == "failing: NOT_SERVING"
        assert seen["reason"] == degraded.reason
        (tmp_path / "sick").unlink()
        await stack.wait_for("api", State.READY, timeout=30)
        assert api.restarts == 0 and api.ctx.processes[0].pid == pid
    finally:
        if not starting.done():
            starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)


def _last_answer(stack: Any, name: str) -> str:
    unit = stack.units.get(name)
    return unit.ctx.last_probe_error if unit is not None and unit.ctx is not None else ""


@pytest.mark.slow
async def test_a_server_without_the_health_service_times_out_saying_so(
    tmp_path: Path, make_stack: Any
) -> None:
    """`probe` starts once `bare`'s server listens (its dependency), so its readiness times out
    on that server's answer, however long the server took to start."""
    text = """
[services.bare]
command = ["{PY}", "GRPC_APP", "--port", "${port}", "--no-health"]
ready = { tcp = "${port}" }

[services.probe]
command = ["sleep", "60"]
depends_on = ["bare"]
ready = { grpc = "${bare.port}" }
start_timeout = 1
"""
    stack = await make_stack(tmp_path, profile(text, tmp_path))
    with pytest.raises(ProbeTimeout) as info:
        await stack.start()
    port = stack.units["bare"].ctx.port
    assert f"readiness probe grpc 127.0.0.1:{port} did not pass within" in str(info.value)
    assert "(last attempt: UNIMPLEMENTED (the server has no grpc.health.v1 health service))" in (
        str(info.value)
    )


def test_the_profile_s_forms_and_mistakes(tmp_path: Path) -> None:
    assert registry.get("grpc").parse(50051).describe() == "grpc 50051"
    assert registry.get("grpc").parse("db:${port}/a.B").describe() == "grpc db:${port}/a.B"
    write_project(
        tmp_path,
        """
[services.app]
command = ["sleep", "60"]
ready = { grpc = "localhost" }
liveness = { grpc = "${port}/a/b" }
""",
    )
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    text = str(info.value)
    assert "dev.toml:4:11: services.app.ready.grpc: expected a port, host:port" in text
    assert "dev.toml:5:14: services.app.liveness.grpc: expected one service name" in text


def test_without_grpcio_the_profile_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if grpcio were not installed (its import refused): a mistake at the key, naming the
    extra, when the profile is read; never an ImportError while the stack runs."""
    monkeypatch.setitem(sys.modules, "grpc", None)
    write_project(
        tmp_path,
        """
[services.app]
command = ["sleep", "60"]
ready = { grpc = "${port}" }
""",
    )
    with pytest.raises(ProfileError) as info:
        projects.load("dev", root=tmp_path)
    assert (
        "dev.toml:4:11: services.app.ready.grpc: the grpc probe needs grpcio and "
        "grpcio-health-checking: pip install 'stackfixtures[grpc]'"
    ) in str(info.value)
    with pytest.raises(ValueError, match=r"pip install 'stackfixtures\[grpc\]'"):
        sf.probe.grpc(50051)


@pytest.mark.slow  # docker-compose checks the Compose file
def test_exported_as_kubernetes_s_grpc_probe(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
[services.app]
command = ["sleep", "60"]
ready = { grpc = "${port}/shop.Cart", tcp = "${port}" }
liveness = { grpc = "${port}" }
export = { image = "shop:1" }
""",
    )
    proj = projects.load("dev", root=tmp_path)
    objects = k8s.objects(proj)["app"]
    validate_k8s(objects)
    [deployment] = [d for d in objects if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]["containerPort"]
    assert container["readinessProbe"]["grpc"] == {"port": port, "service": "shop.Cart"}
    assert container["livenessProbe"]["grpc"] == {"port": port}
    file = tmp_path / "compose.yaml"
    file.write_text(yaml.safe_dump(compose.document(proj)))
    test = compose_binary.normalised(file)["services"]["app"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    assert f"grpc_health_probe -addr=localhost:{port} -service=shop.Cart;" in test[1]


@pytest.mark.slow
def test_reading_a_profile_with_it_does_not_import_grpc(tmp_path: Path) -> None:
    """grpcio is imported by the first check, not by the CLI nor by reading the profile."""
    write_project(tmp_path, profile(PROFILE, tmp_path))
    code = (
        "import sys\nfrom stackfixtures.cli import main\n"
        "try:\n    main(['validate', '-p', 'dev'])\nexcept SystemExit as e:\n    print(e.code)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'grpc_health')))"
    )
    done = subprocess.run(
        [PY, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *_, code, imported = done.stdout.splitlines()
    assert code == "0", done.stdout
    assert imported == "[]"
