"""A container's healthcheck: the image's own (`healthcheck = "image"`) or ours (a table,
handed to the engine, which runs it in the container); the service is ready when the engine
says the container is healthy. While it is not, the probe's answer is the engine's status and
the last check's output, so a timeout says why."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import StartError
from ...kind_api import OptionsView, ServiceContext

if TYPE_CHECKING:
    from docker.models.containers import Container as Running

NS = 1_000_000_000


def engine_form(table: OptionsView) -> dict[str, Any]:
    """The engine's `healthcheck` argument (durations in nanoseconds; a string is run by the
    container's shell, as Compose runs one)."""
    test = ["CMD-SHELL", table.test] if isinstance(table.test, str) else list(table.test)
    return {
        "test": test,
        "interval": int(table.interval * NS),
        "timeout": int(table.timeout * NS),
        "retries": table.retries,
        "start_period": int(table.start_period * NS),
    }


def _health(container: Running, run_it: bool) -> dict[str, Any] | None:
    """The container's health as the engine says; with `run_it`, the engine's own check run
    once first (Podman's libpod API: Podman runs healthchecks from systemd timers, which a
    machine without systemd does not have, so it would stay "starting" for ever)."""
    if run_it and container.client is not None:
        import requests

        api = container.client.api
        path = f"/v{api.api_version}/libpod/containers/{container.id}/healthcheck"
        with contextlib.suppress(requests.RequestException):  # (then it stays "starting")
            api.get(api.base_url + path, timeout=60).raise_for_status()
    container.reload()
    found = container.attrs.get("State", {}).get("Health")
    return found if isinstance(found, dict) else None


def _is_podman(container: Running) -> bool:
    if container.client is None:
        return False
    parts = container.client.version().get("Components") or []
    return any(str(p.get("Name", "")).startswith("Podman") for p in parts)


def _last_output(health: dict[str, Any]) -> str:
    log = health.get("Log") or []
    if not log:
        return "no check finished yet"
    last = log[-1]
    lines = str(last.get("Output", "")).strip().splitlines()
    return f"exit {last.get('ExitCode')}" + (f": {lines[-1]}" if lines else "")


@dataclass
class HealthProbe:
    """Passes when the engine reports the container healthy."""

    container: Running
    test: str  # how the check is written, for people
    interval: float = 1.0  # how often Podman is asked to run it
    podman: bool | None = None  # (asked once)
    last_run: float = field(default=-math.inf)

    def describe(self) -> str:
        return f"healthcheck {self.test}"

    async def check(self, ctx: ServiceContext) -> str | None:
        if self.podman is None:
            self.podman = await asyncio.to_thread(_is_podman, self.container)
        run_it = self.podman and time.monotonic() - self.last_run >= self.interval
        if run_it:
            self.last_run = time.monotonic()
        health = await asyncio.to_thread(_health, self.container, run_it)
        if health is None:
            image = self.container.attrs.get("Config", {}).get("Image", "")
            raise StartError(
                ctx.name,
                "starting",
                f'healthcheck = "image", but image {image} has no HEALTHCHECK (give a '
                "healthcheck table, or a `ready` probe)",
            )
        status = str(health.get("Status", "unknown"))
        if status == "unhealthy":  # its retries used up: the engine gave up, so do we
            raise StartError(
                ctx.name,
                "starting",
                f"the engine says it is unhealthy after {health.get('FailingStreak')} failed "
                f"checks of {self.describe()}; the last: {_last_output(health)}",
                ctx.log.tail(),
            )
        return None if status == "healthy" else f"{status} ({_last_output(health)})"


def described(healthcheck: OptionsView | str) -> str:
    if isinstance(healthcheck, str):
        return "of the image"
    test = healthcheck.test
    return test if isinstance(test, str) else " ".join(test)
