"""Long-lived helpers that the services of one stack share across their incarnations (e.g.
`postgres_db`'s pools of ready clones): each held under a key, each closed (and its own tasks
awaited) by the stack before it stops its services, so none outlives the stack's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Protocol

from .tasks import cancel_and_wait_out


class Owned(Protocol):
    """A helper with background work of its own: `aclose` stops it and awaits its tasks."""

    async def aclose(self) -> None: ...

    def abort(self) -> None:
        """Cut a close short (a second Ctrl-C): its tasks cancelled now, `aclose` ends soon."""


class Resources:
    """One stack's shared helpers, by key; closed in the reverse order they were added."""

    def __init__(self) -> None:
        self._items: dict[Hashable, Owned] = {}
        self.closed = False

    def get(self, key: Hashable) -> Owned | None:
        return self._items.get(key)

    def held(self) -> list[Hashable]:
        return list(self._items)

    def add(self, key: Hashable, item: Owned) -> None:
        if self.closed:
            raise RuntimeError("the stack is closing: no new shared helpers")
        self._items[key] = item

    async def discard(self, key: Hashable) -> None:
        """Close and forget the helper under `key` (e.g. one for a server that changed)."""
        item = self._items.get(key)
        if item is not None:
            try:  # kept until closed: abort() reaches it meanwhile
                await item.aclose()
            finally:
                self._items.pop(key, None)

    def abort(self) -> None:
        """Cut every helper's close short (see Owned.abort)."""
        for item in list(self._items.values()):
            item.abort()

    async def aclose(self) -> None:
        self.closed = True
        while self._items:
            key = next(reversed(self._items))
            await self.discard(key)


_BY_STACK: dict[str, Resources] = {}


def of(stack_id: str) -> Resources:
    """The shared helpers of the stack `stack_id` (made on first use)."""
    found = _BY_STACK.get(stack_id)
    if found is None or found.closed:
        found = _BY_STACK[stack_id] = Resources()
    return found


async def close(stack_id: str, hurry: asyncio.Event | None = None) -> None:
    """Close every helper of the stack `stack_id` (the stack calls this as it closes); cut
    short (their tasks cancelled, then awaited) once `hurry` is set (a second Ctrl-C)."""
    found = _BY_STACK.pop(stack_id, None)
    if found is None:
        return
    closing = asyncio.create_task(found.aclose(), name="resources:close")
    hurried = asyncio.create_task((hurry or asyncio.Event()).wait(), name="resources:hurry")
    try:
        await asyncio.wait({closing, hurried}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # cancelled ourselves, or hurried: the helpers' tasks cancelled (abort), and the
        if not closing.done():  # close awaited to its end (not cut off: every helper closes)
            found.abort()
        await cancel_and_wait_out([hurried], wait_out=[closing])
    closing.result()  # its error, if any
