"""The reference backend's shutdown workload: POST /tasks to the gateway, remember every task
that was acknowledged (201), and after the restart check that each one completes.

Named in profiles/dev.toml (`[bench.shutdown] workload`), so `stack bench shutdown` drives it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx


class TaskWorkload:
    """Tasks written to `service` (the gateway) while the stack is stopped under them."""

    def __init__(self, service: str = "api_gateway") -> None:
        self.service = service
        self._count = 0
        self._lock = threading.Lock()

    def _next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def run(self, handles: Mapping[str, Any], stop: threading.Event) -> list[Any]:
        acked: list[Any] = []
        url = handles[self.service].url
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
            while not stop.is_set():
                try:
                    reply = http.post("/tasks", json={"payload": f"bench {self._next()}"})
                except httpx.HTTPError:
                    time.sleep(0.005)  # the gateway is going down: try until told to stop
                    continue
                if reply.status_code == 201:
                    acked.append(reply.json()["id"])
        return acked

    def verify(
        self, handles: Mapping[str, Any], acknowledged: list[Any], timeout: float = 120.0
    ) -> int:
        """How many acknowledged tasks never complete (zero data loss means 0)."""
        pending = set(acknowledged)
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=handles[self.service].url, timeout=10, trust_env=False) as c:
            while pending and time.monotonic() < deadline:
                for task_id in list(pending):
                    reply = c.get(f"/tasks/{task_id}")
                    if reply.status_code == 200 and reply.json()["status"] == "done":
                        pending.discard(task_id)
                if pending:
                    time.sleep(0.1)
        return len(pending)
