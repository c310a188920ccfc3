"""Tasks in PostgreSQL: created pending, completed once (a second completion changes nothing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id uuid PRIMARY KEY,
    payload text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    result text,
    agent text,
    applied integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS tasks_pending ON tasks (created_at) WHERE status = 'pending';
"""


@dataclass(frozen=True)
class Task:
    id: uuid.UUID
    payload: str
    status: str
    result: str | None


class TaskStore:
    def __init__(self, url: str, max_size: int = 4) -> None:
        self.pool = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"autocommit": True}
        )

    async def open(self, migrate: bool = False) -> None:
        await self.pool.open(wait=True, timeout=10)
        if migrate:
            async with self.pool.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(4242)")
                try:
                    await conn.execute(SCHEMA)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(4242)")

    async def close(self) -> None:
        await self.pool.close()

    async def create(self, task_id: uuid.UUID, payload: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO tasks (id, payload) VALUES (%s, %s)", (task_id, payload)
            )

    async def delete(self, task_id: uuid.UUID) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM tasks WHERE id = %s AND status = 'pending'", (task_id,))

    async def get(self, task_id: uuid.UUID) -> Task | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, payload, status, result FROM tasks WHERE id = %s", (task_id,)
            )
            row = await cur.fetchone()
        return Task(**row) if row else None

    async def complete(self, task_id: uuid.UUID, result: str, agent: str) -> bool:
        """Record the result; True if this call applied it, False if it was already done."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE tasks SET status = 'done', result = %s, agent = %s, "
                "applied = applied + 1, completed_at = now() "
                "WHERE id = %s AND status = 'pending'",
                (result, agent, task_id),
            )
            return cur.rowcount == 1

    async def pending(self, limit: int = 10000) -> list[Task]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, payload, status, result FROM tasks "
                "WHERE status = 'pending' ORDER BY created_at LIMIT %s",
                (limit,),
            )
            return [Task(**r) for r in await cur.fetchall()]

    async def ping(self) -> None:
        async with self.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
