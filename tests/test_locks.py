"""The per-node read-write lock: shared holders run together, exclusive ones alone."""

from __future__ import annotations

import asyncio

from services.locks import NodeLocks


async def test_shared_holders_overlap_and_exclusive_waits_for_them() -> None:
    locks = NodeLocks()
    events: list[str] = []
    inside = 0
    most_inside = 0

    async def change(name: str) -> None:
        nonlocal inside, most_inside
        async with locks.shared(1):
            inside += 1
            most_inside = max(most_inside, inside)
            events.append(f"{name} in")
            await asyncio.sleep(0.02)
            events.append(f"{name} out")
            inside -= 1

    async def reconcile() -> None:
        await asyncio.sleep(0.005)
        async with locks.exclusive(1):
            assert inside == 0
            events.append("reconcile")
            await asyncio.sleep(0.01)

    async def late_change() -> None:
        await asyncio.sleep(0.01)  # arrives while reconcile waits: must not jump ahead of it
        await change("late")

    await asyncio.gather(change("a"), change("b"), reconcile(), late_change())
    assert most_inside == 2
    assert events.index("reconcile") > events.index("a out")
    assert events.index("reconcile") > events.index("b out")
    assert events.index("late in") > events.index("reconcile")


async def test_other_nodes_are_not_blocked() -> None:
    locks = NodeLocks()
    async with locks.exclusive(1):
        await asyncio.wait_for(_enter_shared(locks, 2), timeout=1)


async def _enter_shared(locks: NodeLocks, node_id: int) -> None:
    async with locks.shared(node_id):
        pass
