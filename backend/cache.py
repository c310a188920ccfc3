"""Results cached in the Redis-compatible server, so reads of finished tasks skip PostgreSQL."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis


class ResultCache:
    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    @staticmethod
    def key(task_id: uuid.UUID) -> str:
        return f"task:{task_id}:result"

    async def get(self, task_id: uuid.UUID) -> str | None:
        value = await self.redis.get(self.key(task_id))
        return value.decode() if value is not None else None

    async def put(self, task_id: uuid.UUID, result: str) -> None:
        await self.redis.set(self.key(task_id), result, ex=24 * 3600)

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()
