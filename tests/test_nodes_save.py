"""Coalesced config saves: every peer change persisted on return, far fewer saves than changes."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import NodeError, NodeTarget, PeerSpec, SshPool, WireGuard
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from tests.netlab import NETNS_ETC, Lab, LabNode
from tests.nodes_support import RecordingPool


class ClockPool(SshPool):
    """No node at all: records when each `wg set` ended and each save started and ended."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))
        self.clock = 0
        self.set_done: dict[str, int] = {}  # public key -> tick its `wg set` completed
        self.saves: list[tuple[int, int]] = []  # (start tick, end tick)
        self.fail = False

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        await asyncio.sleep(random.uniform(0, 0.003))
        if "wg-quick save" in command:
            start = self.tick()
            await asyncio.sleep(random.uniform(0.001, 0.01))
            self.saves.append((start, self.tick()))
            if self.fail:
                raise NodeError(target.name, "command failed (exit 1): no space left")
        else:
            words = command.split()
            self.set_done[words[words.index("peer") + 1]] = self.tick()
        return ""


def new_peer(host: int) -> PeerSpec:
    ip = f"10.9.{host // 250}.{host % 250 + 2}/32"
    return PeerSpec(public_key(generate_private_key()), generate_preshared_key(), (ip,))


FAKE = NodeTarget("fake", "192.0.2.1", host_key="ssh-ed25519 AAAA", interface="wg0")


async def test_each_caller_returns_after_a_save_that_started_after_its_change() -> None:
    pool = ClockPool()
    wg = WireGuard(pool)
    returned: dict[str, int] = {}

    async def add(peer: PeerSpec) -> None:
        await asyncio.sleep(random.uniform(0, 0.05))
        await wg.add_peer(FAKE, peer)
        returned[peer.public_key] = pool.tick()

    peers = [new_peer(i) for i in range(200)]
    await asyncio.gather(*(add(p) for p in peers))
    for peer in peers:
        done, back = pool.set_done[peer.public_key], returned[peer.public_key]
        assert any(done < start and end < back for start, end in pool.saves)
    starts = sorted(pool.saves)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(starts))  # never overlap
    assert wg.saves(FAKE) == len(pool.saves) < 100


async def test_a_failed_shared_save_reaches_every_waiter_then_recovers() -> None:
    pool = ClockPool()
    pool.fail = True
    wg = WireGuard(pool)
    results = await asyncio.gather(
        *(wg.add_peer(FAKE, new_peer(i)) for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, NodeError) and r.node == "fake" for r in results)
    assert len({id(r) for r in results}) == 20  # one exception object per waiter
    pool.fail = False
    await wg.add_peer(FAKE, new_peer(99))


async def test_a_cancelled_caller_does_not_cancel_the_shared_save() -> None:
    pool = ClockPool()
    wg = WireGuard(pool)
    tasks = [asyncio.create_task(wg.add_peer(FAKE, new_peer(i))) for i in range(10)]
    await asyncio.sleep(0.002)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(r is None for r in results[1:])


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_node(
            "s1", wg_subnet="10.9.0.1/16", authorized_key=SshPool.ensure_client_key(key_path)
        )
        yield lab


def saves(pool: RecordingPool) -> int:
    return sum("wg-quick save" in command for command in pool.commands)


def saved_keys(node: LabNode) -> set[str]:
    lines = node.config_path.read_text().splitlines()
    return {line.split(" = ", 1)[1] for line in lines if line.startswith("PublicKey = ")}


@pytest.mark.root
@pytest.mark.timeout(120)
async def test_hundred_concurrent_adds_all_persisted_with_few_saves(
    key_path: Path, target: NodeTarget, node: LabNode
) -> None:
    # 100 calls queue for 8 channels, and a call's deadline covers its wait in the queue
    pool = RecordingPool(key_path, connect_timeout=2, command_timeout=90)
    wg = WireGuard(pool)
    try:
        peers = [new_peer(i) for i in range(100)]
        await asyncio.gather(*(wg.add_peer(target, p) for p in peers))
        keys = {p.public_key for p in peers}
        assert keys <= saved_keys(node)
        assert keys <= {p.public_key for p in await wg.peers(target)}
        assert 1 <= wg.saves(target) == saves(pool) <= 20
        await asyncio.gather(*(wg.remove_peer(target, p.public_key) for p in peers))
        assert not keys & saved_keys(node)
    finally:
        await pool.close()


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_single_add_persisted_on_return(
    pool: RecordingPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    peer = new_peer(500)
    await wg.add_peer(target, peer)
    assert peer.public_key in saved_keys(node)
    assert f"PresharedKey = {peer.preshared_key}" in node.config_path.read_text()
    assert wg.saves(target) == saves(pool) == 1
    assert all(peer.preshared_key not in command for command in pool.commands)
    await wg.remove_peer(target, peer.public_key)
    assert peer.public_key not in saved_keys(node)


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_save_failure_reaches_every_waiter(
    pool: RecordingPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    peers = [new_peer(600 + i) for i in range(30)]
    # wg-quick save writes IFACE.conf.tmp first: a directory there makes every save fail
    blocker = NETNS_ETC / node.ns / "wireguard" / f"{node.interface}.conf.tmp"
    blocker.mkdir()
    try:
        results = await asyncio.gather(
            *(wg.add_peer(target, p) for p in peers), return_exceptions=True
        )
    finally:
        blocker.rmdir()
    assert all(isinstance(r, NodeError) for r in results), results
    errors = [r for r in results if isinstance(r, NodeError)]
    assert all(e.node == "s1" and "command failed" in e.reason for e in errors)
    assert not any(p.preshared_key in str(e) for e in errors for p in peers)
    assert 1 <= wg.saves(target) < 30
    assert not {p.public_key for p in peers} & saved_keys(node)  # live, not saved
    await wg.add_peer(target, new_peer(700))  # the next save works again
    assert {p.public_key for p in peers} <= saved_keys(node)
    await asyncio.gather(*(wg.remove_peer(target, p.public_key) for p in peers))
