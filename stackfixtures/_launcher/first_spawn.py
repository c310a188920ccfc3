"""The stack's first spawn: the launcher's control server sets itself up once the first process
runs (`told`, `wait`), so that its modules load while that process boots, not before it.

For tests only, what the launcher had imported by then (`record`): with
`STACKFIXTURES_MODULES_AT_SPAWN=1` in its environment, the launcher writes `{"service": NAME,
"modules": sorted(sys.modules), "gc": whether the garbage collector runs (_startup.py)}`
(JSON) to `modules-at-first-spawn.json` in its state dir (0600) at the first process a service
of its stack starts (an audit hook sees the spawn: the process carries the service marker, so
the watchdog's does not count).
tests/test_imports_launcher.py checks that nothing the first spawn does not need is imported
before it: the control server, the dashboard, the file watcher, the live view, reports,
exports, benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._engine.markers import SERVICE_ENV

if TYPE_CHECKING:
    from .._engine.events import Event
    from .._engine.stack import Stack

WAIT = 0.5
"""Seconds the control server waits for the stack's first process (or container) before it
sets itself up anyway (a start that spawns nothing for a while: an image being pulled)."""

ENV = "STACKFIXTURES_MODULES_AT_SPAWN"
NAME = "modules-at-first-spawn.json"


def record(state_dir: Path) -> None:
    """Write what is imported at the first service's spawn, when the environment asks."""
    if not os.environ.get(ENV):
        return
    done = False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal done
        if done or event != "subprocess.Popen":
            return
        env = args[3] if len(args) > 3 else None
        service = env.get(SERVICE_ENV, env.get(SERVICE_ENV.encode())) if env else None
        if service is None:
            return
        done = True
        from .._engine import private_files

        name = service.decode() if isinstance(service, bytes) else str(service)
        said = {"service": name, "modules": sorted(sys.modules), "gc": gc.isenabled()}
        private_files.write(state_dir / NAME, json.dumps(said))

    sys.addaudithook(hook)


def told(stack: Stack, starts: bool) -> asyncio.Event:
    """An event set once `stack` has started its first process or container, or a service got
    past STARTING without one; set at once when it `starts` nothing (on demand). The launcher
    sets it too when its start is over."""
    spawned = asyncio.Event()
    loop = asyncio.get_running_loop()
    if stack.ledger is None or not starts:
        spawned.set()
    else:  # (a service's code may start a process from a thread of its own)
        stack.ledger.on_record = lambda: loop.call_soon_threadsafe(spawned.set)

    def past_starting(event: Event) -> None:
        if event.source == "starting":
            spawned.set()

    stack.events.subscribe(past_starting)
    return spawned


async def wait(stack: Stack, spawned: asyncio.Event) -> None:
    """Until `spawned` is set, WAIT seconds at most."""
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT):
                await spawned.wait()
    finally:
        if stack.ledger is not None:
            stack.ledger.on_record = None
