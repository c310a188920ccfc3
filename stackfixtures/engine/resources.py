"""Long-lived helpers that the services of one stack share across their incarnations (e.g.
`postgres_db`'s pools of ready clones): each held under a key, each closed (and its own tasks
awaited) by the stack before it stops its services, so none outlives the stack's event loop."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol


class Owned(Protocol):
    """A helper with background work of its own: `aclose` stops it and awaits its tasks."""

    async def aclose(self) -> None: ...


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
        item = self._items.pop(key, None)
        if item is not None:
            await item.aclose()

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


async def close(stack_id: str) -> None:
    """Close every helper of the stack `stack_id` (the stack calls this as it closes)."""
    found = _BY_STACK.pop(stack_id, None)
    if found is not None:
        await found.aclose()
