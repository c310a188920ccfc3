"""The backend's settings, read from the environment its services are started with."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    nats_url: str
    stream: str = "TASKS"
    subject: str = "tasks.new"
    consumer: str = "agents"

    @classmethod
    def from_env(cls) -> Settings:
        missing = [k for k in ("DATABASE_URL", "REDIS_URL", "NATS_URL") if not os.environ.get(k)]
        if missing:
            raise RuntimeError(f"backend needs {', '.join(missing)} in its environment")
        return cls(
            database_url=os.environ["DATABASE_URL"],
            redis_url=os.environ["REDIS_URL"],
            nats_url=os.environ["NATS_URL"],
            stream=os.environ.get("TASKS_STREAM", "TASKS"),
            subject=os.environ.get("TASKS_SUBJECT", "tasks.new"),
            consumer=os.environ.get("TASKS_CONSUMER", "agents"),
        )
