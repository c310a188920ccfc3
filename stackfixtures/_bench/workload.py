"""Workloads: the traffic a stack must survive a stop under, and the check that nothing it
acknowledged was lost. The library knows none; a project names its own in the profile
(`[bench.shutdown] workload = "module:factory"`) or with `stack bench shutdown --workload`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .._config.imports import import_object


class Workload(Protocol):
    """Traffic and its verification, run against the handles of a running stack."""

    def run(self, handles: Mapping[str, Any], stop: threading.Event) -> list[Any]:
        """Write until `stop` is set (several threads call it at once); what was acknowledged.
        Errors while the stack goes down are expected: keep trying until `stop`."""
        ...

    def verify(self, handles: Mapping[str, Any], acknowledged: list[Any]) -> int:
        """Once the stack runs again on the same state: how many of `acknowledged` are gone."""
        ...


class Idle:
    """No traffic: the benchmark then measures graceful stops and leftovers alone."""

    def run(self, handles: Mapping[str, Any], stop: threading.Event) -> list[Any]:
        stop.wait()
        return []

    def verify(self, handles: Mapping[str, Any], acknowledged: list[Any]) -> int:
        return 0


class Writers:
    """`count` threads running a workload against `handles` until stopped: the traffic a
    benchmark puts a stack under, and what it acknowledged meanwhile."""

    def __init__(self, workload: Workload, handles: Mapping[str, Any], count: int) -> None:
        self.acked: list[Any] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(workload, handles), daemon=True)
            for _ in range(count)
        ]

    def _write(self, workload: Workload, handles: Mapping[str, Any]) -> None:
        self.acked.extend(workload.run(handles, self._stop))

    def start(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 60.0) -> list[Any]:
        """Tell every writer to stop; what they acknowledged (each write waits at most its
        client's timeout, so `timeout` bounds the wait for the slowest)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        return self.acked


def workload_for(reference: str | None, root: Path, **options: Any) -> Workload:
    """The workload `module:factory` names (called with `options`), or Idle when none."""
    if not reference:
        return Idle()
    factory = import_object(reference, root)
    workload: Workload = factory(**options)
    return workload
