"""The benchmark's FastAPI app: /health answers only when PostgreSQL and Valkey both do."""

from __future__ import annotations

import os

import psycopg
import redis.asyncio as redis
from fastapi import FastAPI, Response

app = FastAPI()
cache = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.get("/health")
async def health(response: Response) -> dict[str, str]:
    try:
        async with await psycopg.AsyncConnection.connect(os.environ["DATABASE_URL"]) as conn:
            await conn.execute("SELECT 1")
        await cache.ping()
    except Exception as e:  # a dependency is gone: this is a failed request
        response.status_code = 503
        return {"status": f"fail: {e}"}
    return {"status": "ok"}
