"""Compose in, started for real: an included compose file's container (the busybox test image,
built locally) between two process services of the profile, and `stack import compose`'s
profile validated and started."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackfixtures import Stack
from stackfixtures import _project as projects

from .cli_helpers import run_stack
from .compose_include_helpers import compose_schema, write_compose
from .conftest import until, write_project
from .test_kind_container import CHAIN

__all__ = ["compose_schema"]  # a fixture

pytestmark = pytest.mark.slow  # starts containers and processes (tests/spawns.py)

WEB = """\
services:
  web:
    image: {image}
    command: ["sh", "-c", "echo api-is-$$API; exec httpd -f -p 80 -h /www"]
    environment:
      API: ${{api.url}}
    ports: ["80"]
    stop_grace_period: 1s
    depends_on: [api]
"""

AROUND = (  # a process service the container needs, a task that fetches the container's page
    CHAIN
    + """
[services.web]
ready = { http = "http://127.0.0.1:${port}/" }
"""
)


def lines(stack: Stack, name: str) -> list[str]:
    return list(stack.units[name].log.tail(200))


async def test_an_included_container_between_process_services_starts_and_answers(
    tmp_path: Path,
    compose_schema: dict[str, Any],
    docker_url: str,
    busybox: str,
    monkeypatch: pytest.MonkeyPatch,
    make_stack: Any,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_url)  # a compose file names no engine
    write_compose(tmp_path / "profiles" / "compose.yaml", WEB.format(image=busybox), compose_schema)
    stack = await make_stack(tmp_path, '[stack]\ninclude = ["compose.yaml"]\n' + AROUND)
    handles = await stack.start(["check"])
    assert handles["check"].exit_code == 0  # the process fetched the container's page
    web = stack.handle("web")
    assert httpx.get(web.url).text == "hello from busybox\n"
    # wired: the container sees the process service through the stack's relay (same port)
    relayed = re.compile(rf"api-is-http://[0-9.]+:{stack.handle('api').port}$")
    await until(lambda: any(relayed.match(line) for line in lines(stack, "web")))
    await stack.close()


async def test_the_imported_profile_validates_and_starts(
    tmp_path: Path,
    compose_schema: dict[str, Any],
    docker_url: str,
    busybox: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_url)
    compose = WEB.format(image=busybox).replace("    depends_on: [api]\n", "")
    compose = compose.replace("      API: ${api.url}", "      API: ${API_URL:-none}")
    write_compose(tmp_path / "compose" / "compose.yaml", compose, compose_schema)
    write_project(tmp_path, "")
    out = tmp_path / "profiles" / "dev.toml"
    made = run_stack(
        ["import", "compose", "compose/compose.yaml", "-o", str(out), "--force"], cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"wrote {out} (1 service)\n"
    checked = run_stack(["validate", "-p", "dev"], cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    proj = projects.load("dev", root=tmp_path)
    stack = Stack(proj.graph, state_dir=tmp_path / "state", root=tmp_path)
    try:
        web = (await stack.start())["web"]
        await until(lambda: "api-is-none" in lines(stack, "web"))
        async with httpx.AsyncClient() as client:
            await until_answers(client, web.url)
    finally:
        await stack.close()


async def until_answers(client: httpx.AsyncClient, url: str) -> None:
    """The imported service has no readiness probe: ready once running; wait for httpd."""
    import asyncio
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            if (await client.get(url)).text == "hello from busybox\n":
                return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
        await asyncio.sleep(0.1)


def test_import_lists_what_it_cannot_honour_and_writes_nothing(tmp_path: Path) -> None:
    compose = write_compose(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    image: x\n    network_mode: host\n    ports: ['0.0.0.0:80:80']\n",
    )
    out = tmp_path / "dev.toml"
    result = run_stack(["import", "compose", str(compose), "-o", str(out)], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{compose}:4:5: services.web.network_mode: cannot be honoured by a container service",
        f"{compose}:5:13: services.web.ports[0]: host address 0.0.0.0: a stack publishes on "
        "127.0.0.1 only",
        "error: 2 problems, listed above",
    ]
    assert not out.exists()
