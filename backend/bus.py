"""Tasks on NATS JetStream: a work-queue stream and one durable consumer the agents share."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from .settings import Settings


class TaskBus:
    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.nc: Any = None
        self.js: Any = None

    async def connect(self) -> None:
        self.nc = await nats.connect(
            self.settings.nats_url, name=self.name, connect_timeout=2, max_reconnect_attempts=-1
        )
        self.js = self.nc.jetstream()

    async def ensure_stream(self) -> None:
        """Create the stream and the agents' durable consumer if they do not exist yet."""
        s = self.settings
        await self.js.add_stream(
            StreamConfig(
                name=s.stream,
                subjects=[s.subject],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=120.0,
            )
        )
        await self.js.add_consumer(
            s.stream,
            ConsumerConfig(
                durable_name=s.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_ack_pending=1000,
                filter_subject=s.subject,
            ),
        )

    async def publish(self, task_id: uuid.UUID, payload: str) -> None:
        """Returns once the stream has stored the task (its PubAck); the task id deduplicates."""
        body = json.dumps({"id": str(task_id), "payload": payload}).encode()
        await self.js.publish(
            self.settings.subject, body, timeout=5, headers={"Nats-Msg-Id": str(task_id)}
        )

    async def subscribe(self) -> Any:
        s = self.settings
        return await self.js.pull_subscribe_bind(consumer=s.consumer, stream=s.stream)

    async def ping(self) -> None:
        if self.nc is None or not self.nc.is_connected:
            raise ConnectionError("not connected to NATS")
        await self.js.account_info()

    async def close(self) -> None:
        """Flush what we published or acknowledged, then close. (Not drain(): nats-py's drain
        waits forever on a pull subscription's internal queue.)"""
        if self.nc is None or self.nc.is_closed:
            return
        with contextlib.suppress(Exception):
            await self.nc.flush(timeout=2)
        await self.nc.close()
