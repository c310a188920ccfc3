"""The gateway's task API: POST /tasks answers 201 only once the task is in PostgreSQL and on
the bus; GET /tasks/{id} reads the cache first, then the database."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from .bus import TaskBus
from .cache import ResultCache
from .settings import Settings
from .store import TaskStore

log = logging.getLogger("backend.gateway")


class NewTask(BaseModel):
    payload: str = Field(max_length=1_000_000)


class Created(BaseModel):
    id: uuid.UUID


class TaskView(BaseModel):
    id: uuid.UUID
    status: Literal["pending", "done"]
    result: str | None


class TasksApi:
    """Component: the task API and its connections."""

    name = "tasks"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = TaskStore(settings.database_url, max_size=8)
        self.cache = ResultCache(settings.redis_url)
        self.bus = TaskBus(settings, name="gateway")
        self.router = APIRouter(prefix="/tasks", tags=["tasks"])
        self.router.add_api_route(
            "", self.create, methods=["POST"], status_code=201, response_model=Created
        )
        self.router.add_api_route("/{task_id}", self.read, methods=["GET"], response_model=TaskView)

    async def startup(self) -> None:
        await self.store.open(migrate=True)
        await self.bus.connect()
        await self.bus.ensure_stream()
        await self._republish_pending()

    async def _republish_pending(self) -> None:
        """A task committed just before a crash may never have reached the bus. Publishing
        every pending task again is safe: the bus drops duplicates by task id, and agents
        apply a task at most once."""
        pending = await self.store.pending()
        for task in pending:
            await self.bus.publish(task.id, task.payload)
        if pending:
            log.info("republished %d pending task(s)", len(pending))

    async def shutdown(self) -> None:
        await self.bus.close()
        await self.cache.close()
        await self.store.close()

    async def health(self) -> dict[str, Any]:
        deps: dict[str, str] = {}
        for name, check in (
            ("postgres", self.store.ping),
            ("redis", self.cache.ping),
            ("nats", self.bus.ping),
        ):
            try:
                await check()
                deps[name] = "ok"
            except Exception as e:
                deps[name] = f"fail: {type(e).__name__}: {e}"
        ok = all(v == "ok" for v in deps.values())
        return {"status": "ok" if ok else "fail", "dependencies": deps}

    async def create(self, task: NewTask) -> Created:
        task_id = uuid.uuid4()
        await self.store.create(task_id, task.payload)
        try:
            await self.bus.publish(task_id, task.payload)
        except Exception as e:
            log.warning("publishing task %s failed: %s", task_id, e)
            await self.store.delete(task_id)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "task bus unavailable") from e
        log.info("task %s accepted (%d bytes)", task_id, len(task.payload))
        return Created(id=task_id)

    async def read(self, task_id: uuid.UUID) -> TaskView:
        cached = await self.cache.get(task_id)
        if cached is not None:
            return TaskView(id=task_id, status="done", result=cached)
        task = await self.store.get(task_id)
        if task is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such task")
        return TaskView(id=task.id, status=task.status, result=task.result)  # type: ignore[arg-type]
