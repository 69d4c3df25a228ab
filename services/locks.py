"""Per-node locks: single peer changes share a node, a reconcile or a move holds it alone, so
a reconcile never races a change while single changes still run (and save) together."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class ReadWriteLock:
    """Many holders in shared mode or one in exclusive mode; a waiting exclusive goes first."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._condition:
            await self._condition.wait_for(
                lambda: not self._exclusive and not self._exclusive_waiting
            )
            self._shared += 1
        try:
            yield
        finally:
            async with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._condition:
            self._exclusive_waiting += 1
            try:
                await self._condition.wait_for(lambda: not self._exclusive and not self._shared)
            finally:
                self._exclusive_waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            async with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class NodeLocks:
    def __init__(self) -> None:
        self._locks: defaultdict[int, ReadWriteLock] = defaultdict(ReadWriteLock)

    def shared(self, node_id: int) -> AbstractAsyncContextManager[None]:
        """For one peer change on the node."""
        return self._locks[node_id].shared()

    def exclusive(self, node_id: int) -> AbstractAsyncContextManager[None]:
        """For a reconcile or a move, which read the node's whole desired state."""
        return self._locks[node_id].exclusive()
