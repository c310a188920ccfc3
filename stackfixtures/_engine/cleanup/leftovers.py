"""The sweep after a stop: what the stopped services left behind outside their process groups
(e.g. a double-forked daemon), found by the env marker every process of theirs inherits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..markers import SERVICE_ENV
from . import reaper

if TYPE_CHECKING:
    from ..records import ServiceStop


async def sweep(stack_id: str, units: Mapping[str, Any], stops: list[ServiceStop]) -> None:
    """Kill what `stops`' services left behind; each stop record and log says how many.
    `units`: the stack's (`Unit`s, whose `ctx` and `log` this reads and writes)."""
    names = {s.service for s in stops if (c := units[s.service].ctx) and c.marked}
    if not names or not (left := await asyncio.to_thread(reaper.marked, stack_id, names)):
        return  # only a process given this stack's marker (ctx.environment()) can carry it
    by_service: dict[str, int] = {}
    for p in left:
        with contextlib.suppress(Exception):
            svc = p.environ().get(SERVICE_ENV, "")
            by_service[svc] = by_service.get(svc, 0) + 1
    await asyncio.to_thread(reaper.kill_all, left)
    for s in stops:
        s.swept = by_service.get(s.service, 0)
        if s.swept:
            units[s.service].log.write(
                f"[stackfixtures] swept {s.swept} leftover process(es) that had left the group"
            )
