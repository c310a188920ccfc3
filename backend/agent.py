"""An agent: takes tasks from the bus, computes their digest, records it once in PostgreSQL,
caches it, and acknowledges the message only after the commit."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from typing import Any

import nats.errors
from fastapi import APIRouter

from .bus import TaskBus
from .cache import ResultCache
from .settings import Settings
from .store import TaskStore

log = logging.getLogger("backend.agent")


def work(payload: str) -> str:
    """The task itself: small and deterministic."""
    return hashlib.sha256(payload.encode()).hexdigest()


class Agent:
    """Component: one consumer of the shared durable consumer."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.name = name
        self.store = TaskStore(settings.database_url, max_size=2)
        self.cache = ResultCache(settings.redis_url)
        self.bus = TaskBus(settings, name=name)
        self.processed = 0
        self.applied = 0
        self._stopping = asyncio.Event()
        self._busy = False  # a task is in hand: shutdown lets it finish
        self._loop: asyncio.Task[None] | None = None
        self.router = APIRouter(prefix=f"/agents/{name}", tags=["agents"])
        self.router.add_api_route("", self.stats, methods=["GET"])

    async def startup(self) -> None:
        await self.store.open()
        await self.bus.connect()
        sub = await self.bus.subscribe()
        self._loop = asyncio.create_task(self._consume(sub), name=f"{self.name}:consume")

    async def _consume(self, sub: Any) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(1, timeout=0.5)
            except nats.errors.TimeoutError:
                continue
            except Exception as e:  # connection trouble: back off, keep going
                if self._stopping.is_set():
                    return
                log.warning("%s: fetch failed: %s", self.name, e)
                await asyncio.sleep(0.5)
                continue
            self._busy = True
            try:
                for msg in msgs:
                    await self._handle(msg)  # in-flight work finishes even when stopping
            finally:
                self._busy = False

    async def _handle(self, msg: Any) -> None:
        body = json.loads(msg.data)
        task_id = uuid.UUID(body["id"])
        result = work(body["payload"])
        try:
            applied = await self.store.complete(task_id, result, self.name)
            await self.cache.put(task_id, result)
        except Exception as e:
            log.warning("%s: task %s failed, handing it back: %s", self.name, task_id, e)
            with contextlib.suppress(Exception):
                await msg.nak(delay=1)
            return
        await msg.ack_sync()
        self.processed += 1
        self.applied += int(applied)

    async def shutdown(self) -> None:
        """Stop fetching, let the task in hand finish (ack after commit), then disconnect.
        Anything fetched but unacknowledged is redelivered to another agent."""
        self._stopping.set()
        if self._loop is not None:
            if not self._busy:  # only waiting for work: no need to sit out the fetch timeout
                self._loop.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._loop, timeout=10)
        await self.bus.close()
        await self.cache.close()
        await self.store.close()

    async def health(self) -> dict[str, Any]:
        running = self._loop is not None and not self._loop.done()
        return {"status": "ok" if running else "fail", "processed": self.processed}

    async def stats(self) -> dict[str, Any]:
        return {"name": self.name, "processed": self.processed, "applied": self.applied}
