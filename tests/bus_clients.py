"""Real subscribers of a stack's events: a nats-py client and a paho-mqtt (2.x) client, each
recording what it receives, in the order it arrived, from a thread of its own."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import paho.mqtt.client as mqtt

from .conftest import wait_until


class NatsWatch:
    """Subscribed to `subject` on `url` until `close()`; `received` holds (subject, body)."""

    def __init__(self, url: str, subject: str = "stack.>") -> None:
        import nats

        self.received: list[tuple[str, dict[str, Any]]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def connect() -> Any:
            nc = await nats.connect(url, allow_reconnect=False)

            async def got(msg: Any) -> None:
                self.received.append((msg.subject, json.loads(msg.data)))

            await nc.subscribe(subject, cb=got)
            await nc.flush()  # the server has the subscription: nothing after this is missed
            return nc

        self.nc = self.call(connect())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def subjects(self, service: str = "") -> list[str]:
        return [s for s, _ in self.received if f".{service}." in s]

    def close(self) -> None:
        if not self.nc.is_closed:
            self.call(self.nc.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


class MqttWatch:
    """An MQTT client subscribed to `topic` (QoS 1) until `close()`; `received`: (topic, body)."""

    def __init__(self, port: int, topic: str = "stack/#") -> None:
        self.received: list[tuple[str, dict[str, Any], int]] = []
        self.subscribed = threading.Event()
        client = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="events")
        client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = lambda _c, _u, m: self.received.append(
            (m.topic, json.loads(m.payload), m.qos)
        )
        client.connect("127.0.0.1", port)
        client.loop_start()
        wait_until(self.subscribed.is_set, timeout=30)

    def topics(self, service: str = "") -> list[str]:
        return [t for t, _, _ in self.received if f"/{service}/" in t]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
