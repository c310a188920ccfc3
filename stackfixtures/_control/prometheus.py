"""The stack's figures in the Prometheus text format, via prometheus_client."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from .._engine.lifecycle import State


def exposition(stack_id: str, rows: list[dict[str, Any]]) -> str:
    """One scrape: state, uptime, restarts, memory and CPU of every service."""
    registry = CollectorRegistry()
    labels = ["stack", "service"]
    up = Gauge("stackfixtures_service_up", "1 when the service is ready", labels, registry=registry)
    state = Gauge(
        "stackfixtures_service_state",
        "1 for the service's current state",
        [*labels, "state"],
        registry=registry,
    )
    uptime = Gauge(
        "stackfixtures_service_uptime_seconds",
        "seconds since it became ready",
        labels,
        registry=registry,
    )
    restarts = Gauge("stackfixtures_service_restarts", "restarts so far", labels, registry=registry)
    rss = Gauge(
        "stackfixtures_service_rss_bytes",
        "resident memory of its processes",
        labels,
        registry=registry,
    )
    cpu = Gauge(
        "stackfixtures_service_cpu_percent", "CPU use of its processes", labels, registry=registry
    )
    for row in rows:
        key = (stack_id, row["name"])
        up.labels(*key).set(1 if row["state"] == "ready" else 0)
        for s in State:
            state.labels(*key, s.value).set(1 if row["state"] == s.value else 0)
        uptime.labels(*key).set(row["uptime_s"])
        restarts.labels(*key).set(row["restarts"])
        rss.labels(*key).set(row["rss_mb"] * 2**20)
        cpu.labels(*key).set(row["cpu_percent"])
    return generate_latest(registry).decode()
