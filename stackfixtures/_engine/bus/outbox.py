"""The bounded queue between the event log and the bus: the event log's subscriber puts (from
any thread, never blocking), the publisher peeks a batch and removes it only once the bus has
taken it, so a lost connection loses nothing still queued. Full: the oldest is dropped (the
latest states matter most to a subscriber that comes late), and counted."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    seq: int
    subject: str
    payload: bytes


class Outbox:
    def __init__(self, bound: int) -> None:
        self._items: collections.deque[Item] = collections.deque()
        self._bound = max(1, bound)
        self._lock = threading.Lock()
        self._seq = 0
        self.dropped = 0

    def put(self, subject: str, payload: bytes) -> None:
        with self._lock:
            self._seq += 1
            self._items.append(Item(self._seq, subject, payload))
            while len(self._items) > self._bound:
                self._items.popleft()
                self.dropped += 1

    def peek(self, most: int) -> list[Item]:
        with self._lock:
            return [self._items[i] for i in range(min(most, len(self._items)))]

    def done(self, last: Item) -> None:
        """Everything up to `last` reached the bus (what was dropped meanwhile is gone)."""
        with self._lock:
            while self._items and self._items[0].seq <= last.seq:
                self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
