"""One lock per node, so a reconcile never races a single peer change on the same node."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class NodeLocks:
    def __init__(self) -> None:
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __call__(self, node_id: int) -> asyncio.Lock:
        return self._locks[node_id]
