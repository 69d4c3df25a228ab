"""Coalesced config saves: a peer change returns once live, a save that started after it
follows in the background, and far fewer saves run than changes."""

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
        if "showconf" in command:
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


async def test_each_change_is_saved_by_a_save_that_started_after_it() -> None:
    pool = ClockPool()
    wg = WireGuard(pool)
    returned: dict[str, int] = {}

    async def add(peer: PeerSpec) -> None:
        await asyncio.sleep(random.uniform(0, 0.05))
        await wg.add_peer(FAKE, peer)
        returned[peer.public_key] = pool.tick()

    peers = [new_peer(i) for i in range(200)]
    await asyncio.gather(*(add(p) for p in peers))
    await wg.saved(FAKE)
    for peer in peers:
        done = pool.set_done[peer.public_key]
        assert any(done < start for start, _ in pool.saves)
    # the callers did not wait for saves: most returned before the save that covers them ended
    covered_after = [
        min(end for start, end in pool.saves if start > pool.set_done[key]) for key in returned
    ]
    assert sum(back < end for back, end in zip(returned.values(), covered_after, strict=True)) > 100
    starts = sorted(pool.saves)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(starts))  # never overlap
    assert wg.saves(FAKE) == len(pool.saves) < 100


async def test_a_failed_save_is_logged_the_changes_stand_and_the_next_save_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ClockPool()
    pool.fail = True
    wg = WireGuard(pool)
    peers = [new_peer(i) for i in range(20)]
    results = await asyncio.gather(*(wg.add_peer(FAKE, peer) for peer in peers))
    await wg.saved(FAKE)
    assert results == [None] * 20, "the peers are live: the callers are told so"
    failed = [r.getMessage() for r in caplog.records if "config save failed" in r.getMessage()]
    assert failed and all(
        m.startswith("node fake: config save failed (command failed") for m in failed
    )
    assert not any(p.preshared_key in m for m in failed for p in peers)
    pool.fail = False
    before = len(pool.saves)
    await wg.add_peer(FAKE, new_peer(99))
    await wg.saved(FAKE)
    assert len(pool.saves) == before + 1


async def test_a_cancelled_caller_leaves_the_others_and_the_save_alone() -> None:
    pool = ClockPool()
    wg = WireGuard(pool)
    tasks = [asyncio.create_task(wg.add_peer(FAKE, new_peer(i))) for i in range(10)]
    await asyncio.sleep(0.002)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(r is None for r in results[1:])
    await wg.saved(FAKE)
    assert pool.saves and pool.saves[-1][0] > max(pool.set_done.values())


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_node(
            "s1", wg_subnet="10.9.0.1/16", authorized_key=SshPool.ensure_client_key(key_path)
        )
        yield lab


def saves(pool: RecordingPool) -> int:
    return sum("showconf" in command for command in pool.commands)


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
        await wg.saved(target)
        keys = {p.public_key for p in peers}
        assert keys <= saved_keys(node)
        assert keys <= {p.public_key for p in await wg.peers(target)}
        assert 1 <= wg.saves(target) == saves(pool) <= 20
        await asyncio.gather(*(wg.remove_peer(target, p.public_key) for p in peers))
        await wg.saved(target)
        assert not keys & saved_keys(node)
    finally:
        await pool.close()


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_single_add_live_on_return_and_saved_after(
    pool: RecordingPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    peer = new_peer(500)
    await wg.add_peer(target, peer)
    assert peer.public_key in {p.public_key for p in await wg.peers(target)}
    await wg.saved(target)
    assert peer.public_key in saved_keys(node)
    assert f"PresharedKey = {peer.preshared_key}" in node.config_path.read_text()
    assert wg.saves(target) == saves(pool) == 1
    assert all(peer.preshared_key not in command for command in pool.commands)
    await wg.remove_peer(target, peer.public_key)
    await wg.saved(target)
    assert peer.public_key not in saved_keys(node)


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_save_failure_is_logged_and_the_next_save_works(
    pool: RecordingPool, target: NodeTarget, node: LabNode, caplog: pytest.LogCaptureFixture
) -> None:
    wg = WireGuard(pool)
    peers = [new_peer(600 + i) for i in range(30)]
    # the save writes IFACE.conf.tmp, then renames it: a directory there makes every save fail
    blocker = NETNS_ETC / node.ns / "wireguard" / f"{node.interface}.conf.tmp"
    blocker.mkdir()
    try:
        results = await asyncio.gather(*(wg.add_peer(target, p) for p in peers))
        await wg.saved(target)
    finally:
        blocker.rmdir()
    assert results == [None] * 30
    failed = [r.getMessage() for r in caplog.records if "config save failed" in r.getMessage()]
    assert failed and all(
        m.startswith("node s1: config save failed (command failed") for m in failed
    )
    assert not any(p.preshared_key in m for m in failed for p in peers)
    assert 1 <= wg.saves(target) < 30
    assert {p.public_key for p in peers} <= {p.public_key for p in await wg.peers(target)}
    assert not {p.public_key for p in peers} & saved_keys(node)  # live, not saved
    await wg.add_peer(target, new_peer(700))  # the next save works again
    await wg.saved(target)
    assert {p.public_key for p in peers} <= saved_keys(node)
    await asyncio.gather(*(wg.remove_peer(target, p.public_key) for p in peers))
