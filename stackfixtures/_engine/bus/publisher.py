"""The one task that publishes a stack's events to NATS, in order, never blocking nor failing
the engine: the event log's subscriber only queues (outbox.py); this task waits for the
service the target names to be up, connects (nats-py, imported here only), publishes each
batch and flushes it before removing it from the queue (at least once: a batch cut off by a
lost connection is sent again), reconnects with a bounded backoff. Status shows how it goes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..._define.bus import BusTarget, shown
from ..activity import Activity
from ..events import Event, EventLog
from ..tasks import TaskOwner
from .outbox import Outbox

if TYPE_CHECKING:
    from nats.aio.client import Client

BATCH = 100
CONNECT_TIMEOUT = 2.0
FLUSH_TIMEOUT = 5.0
"""How long the bus may take to acknowledge a batch (a PING's PONG) before the connection is
given up and made again."""
MAX_BACKOFF = 5.0
DELIVER_BEFORE_STOP = 5.0
"""How long a stop waits for the queued events to reach the bus before stopping the service
that runs it (only while connected: an unreachable bus delays nothing)."""

log = logging.getLogger("stackfixtures.events.bus")

Handles = Callable[[], Mapping[str, Any]]
"""The handles of the services that are up."""


class Publisher:
    """Publishes every event of `events` to `target`, from a task of its own (`close` ends it)."""

    def __init__(
        self, target: BusTarget, events: EventLog, handles: Handles, activity: Activity
    ) -> None:
        self.target = target
        self.outbox = Outbox(target.queue)
        self.published = 0
        self.connected = False
        self.last_error: str | None = None
        self.url: str | None = None if target.service else target.url
        self._handles, self._activity = handles, activity
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._refused: Exception | None = None  # what the connection being made met
        self._sent = asyncio.Event()
        self._stop_listening = events.subscribe(self._put)
        self._tasks = TaskOwner("events")
        self._tasks.spawn(self._run(), "publish")

    # ------------------------------------------------------------------ the engine's side

    def _put(self, event: Event) -> None:
        """The event log's subscriber (any thread): queue, wake the task, never wait."""
        payload = json.dumps(event.to_json(), default=str).encode()
        self.outbox.put(self.target.subject_for(event.service, event.target), payload)
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def before_stop(
        self, tasks: Mapping[str, asyncio.Task[Any]], needs: list[str], hurry: asyncio.Event
    ) -> None:
        """The service the bus runs on is to stop with the others of `tasks` (its lives): it
        stops last, once their events reached it; all but those it `needs` (its dependencies,
        which stop after it) and unless in a hurry (a second Ctrl-C)."""
        others = [t for name, t in tasks.items() if name not in needs]
        if others:
            await asyncio.wait(others)
        if not hurry.is_set():
            await self.deliver()

    async def deliver(self) -> None:
        """Wait until the events queued so far reached the bus (bounded; at once when it is
        not connected): a stop calls it before stopping the service the bus runs on."""
        try:
            async with asyncio.timeout(DELIVER_BEFORE_STOP):
                while len(self.outbox) and self.connected:
                    self._sent.clear()
                    await self._sent.wait()
        except TimeoutError:
            left = len(self.outbox)
            self.last_error = f"{left} event(s) not acknowledged in time before the stop"

    async def close(self) -> None:
        """Deliver what can be, then end the task (what is still queued is counted dropped)."""
        await self.deliver()
        self._stop_listening()
        await self._tasks.aclose()
        left = self.outbox.peek(len(self.outbox))
        self.outbox.dropped += len(left)
        service = self.target.service  # its own stop cannot reach it: no news
        own = self.target.subjects_of(service) if service else None
        if any(own is None or not item.subject.startswith(own) for item in left):
            log.warning(
                "%d event(s) not published to %s: %s",
                len(left),
                shown(self.url or self.target.url),
                self.last_error or "not connected",
            )

    def status(self) -> dict[str, Any]:
        return {
            "target": shown(self.url or self.target.url),
            "subject": f"{self.target.subject}.{self.target.profile}",
            "published": self.published,
            "dropped": self.outbox.dropped,
            "queued": len(self.outbox),
            "connected": self.connected,
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        failures = 0
        while True:
            url = await self._url()
            try:
                client = await self._connect(url)
            except Exception as e:  # any failure to connect: said in status, tried again
                failures += 1  # (nats-py retries a refused connection until our timeout: the
                why = self._refused or e  # error it met says more than that timeout)
                self.last_error = f"cannot connect to {shown(url)}: {_words(why)}"
                await asyncio.sleep(min(MAX_BACKOFF, 0.1 * 2**failures))
                continue
            failures, self.connected, self.last_error = 0, True, None
            try:
                await self._pump(client)
            except Exception as e:  # a lost connection: connect again, nothing removed
                self.last_error = f"lost {shown(url)}: {_words(e)}"
            finally:
                self.connected = False
                self._sent.set()  # a delivery waiting for it stops waiting
                await _close(client)

    async def _url(self) -> str:
        """The URL to connect to: an external one as written; a template once its service is
        up (again: after a restart it is filled anew)."""
        service = self.target.service
        if service is None:
            return self.target.url
        while (handle := self._handles().get(service)) is None:
            self.url = None
            self.last_error = self.last_error or f"waiting for {service} to be ready"
            await self._activity.wait(1.0)
        self.url = self.target.render({service: handle})
        return self.url

    async def _connect(self, url: str) -> Client:
        from nats.aio.client import Client as Nats

        lost = self._wake.set  # a closed connection wakes the pump, which then finds it closed

        async def closed() -> None:
            lost()

        async def error(e: Exception) -> None:
            if self.connected:
                self.last_error = f"{shown(url)}: {_words(e)}"
            else:
                self._refused = e

        self._refused = None
        client = Nats()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await client.connect(
                    url,
                    name="stackfixtures-events",
                    allow_reconnect=False,
                    connect_timeout=int(CONNECT_TIMEOUT),
                    max_reconnect_attempts=0,
                    closed_cb=closed,
                    disconnected_cb=closed,
                    error_cb=error,
                )
        except BaseException:  # (a cancellation too) the half-made client is closed
            await _close(client)
            raise
        return client

    async def _pump(self, client: Client) -> None:
        while True:
            if client.is_closed:
                raise ConnectionError("the connection was closed")
            batch = self.outbox.peek(BATCH)
            if not batch:
                self._wake.clear()
                if not len(self.outbox):
                    await self._wake.wait()
                continue
            for item in batch:
                await client.publish(item.subject, item.payload)
            async with asyncio.timeout(FLUSH_TIMEOUT):
                await client.flush()
            self.outbox.done(batch[-1])
            self.published += len(batch)
            self._sent.set()


async def _close(client: Client) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await client.close()
    except Exception as e:  # closing what is lost already: nothing more to do
        log.debug("closing the events connection: %s", _words(e))


def _words(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
