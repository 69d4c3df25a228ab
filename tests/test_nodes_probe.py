"""The one-command node probe and the pool's on_connect hook, against a real node."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nodes import (
    NodeError,
    NodeTarget,
    PeerSpec,
    PeerState,
    Probe,
    SshPool,
    WireGuard,
    generate_preshared_key,
    generate_private_key,
    probe,
    public_key,
)
from nodes.probe import parse_probe
from tests.netlab import Lab, LabNode

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_probe_sums_and_recent_handshakes() -> None:
    def peer(age: float | None, rx: int, tx: int) -> PeerState:
        seen = None if age is None else NOW - timedelta(seconds=age)
        return PeerState(public_key(generate_private_key()), None, (), seen, rx, tx)

    result = Probe(
        True,
        0.5,
        2,
        1 << 30,
        1 << 29,
        (peer(10, 1, 2), peer(179, 3, 4), peer(600, 5, 6), peer(None, 0, 0)),
        0.01,
    )
    assert result.rx_bytes == 9
    assert result.tx_bytes == 12
    assert result.recent_handshakes(NOW) == 2
    assert result.recent_handshakes(NOW, timedelta(minutes=15)) == 3


def test_parse_probe_output() -> None:
    head = (
        "0.42 0.30 0.10 1/123 4567\n4\nMemTotal:        2048000 kB\nMemAvailable:    1024000 kB\n"
    )
    down = parse_probe(head + "--vpnservice-down--\n", 0.2)
    assert (down.interface_up, down.load1, down.cpus, down.peers) == (False, 0.42, 4, ())
    assert down.mem_total_bytes == 2048000 * 1024
    assert down.mem_available_bytes == 1024000 * 1024
    assert down.latency_seconds == 0.2
    pub = public_key(generate_private_key())
    dump = f"priv\tpub\t51820\toff\n{pub}\t(none)\t(none)\t10.8.0.2/32\t0\t10\t20\toff\n"
    up = parse_probe(head + "--vpnservice-wg--\n" + dump, 0.1)
    assert up.interface_up
    assert [p.public_key for p in up.peers] == [pub]
    for bad in ("", "garbage\n--vpnservice-down--\n", head.replace("MemAvailable", "X")):
        with pytest.raises(ValueError, match=r"unexpected|marker"):
            parse_probe(bad + ("--vpnservice-down--\n" if bad else ""), 0.1)


# -- real node ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_node("p1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_probe_real_node(pool: SshPool, target: NodeTarget, node: LabNode) -> None:
    peers = [
        PeerSpec(public_key(generate_private_key()), generate_preshared_key(), (f"10.8.0.{i}/32",))
        for i in (20, 21, 22)
    ]
    wireguard = WireGuard(pool)
    await wireguard.reconcile(target, peers)
    await wireguard.saved(target)  # before the interface goes down below
    result = await probe(pool, target)
    assert result.interface_up
    assert result.cpus >= 1
    assert result.load1 >= 0
    assert 0 < result.mem_available_bytes <= result.mem_total_bytes
    assert {p.public_key for p in result.peers} == {p.public_key for p in peers}
    assert all(p.preshared_key is not None for p in result.peers)
    assert 0 < result.latency_seconds < 5
    assert result.recent_handshakes(datetime.now(UTC)) == 0
    assert (result.rx_bytes, result.tx_bytes) == (0, 0)

    node.wg_quick("down")
    try:
        gone = await probe(pool, target)
        assert not gone.interface_up
        assert gone.peers == ()
        assert gone.cpus == result.cpus
    finally:
        node.wg_quick("up")
    assert (await WireGuard(pool).probe(target)).interface_up
    assert public_key(await WireGuard(pool).private_key(target)) == node.public_key

    missing = NodeTarget(target.name, target.host, host_key=target.host_key, interface="wgnone")
    assert not (await probe(pool, missing)).interface_up


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_probe_unreachable_is_node_error(key_path: Path, node: LabNode) -> None:
    pool = SshPool(key_path, connect_timeout=1)
    try:
        closed = NodeTarget("p1", node.ip, 2222, host_key=node.host_key, interface=node.interface)
        with pytest.raises(NodeError, match="p1: connection refused"):
            await probe(pool, closed)
    finally:
        await pool.close()


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_on_connect_fires_on_every_new_connection(
    key_path: Path, target: NodeTarget, node: LabNode, caplog: pytest.LogCaptureFixture
) -> None:
    seen: asyncio.Queue[tuple[NodeTarget, str]] = asyncio.Queue()
    fail = True

    async def hook(connected: NodeTarget) -> None:
        # like a reconcile: the hook itself runs commands over the same pool
        await seen.put((connected, await own.run(connected, "echo hooked")))
        if fail:
            raise RuntimeError("hook blew up")

    own = SshPool(key_path, connect_timeout=2, on_connect=hook)
    try:
        with caplog.at_level(logging.ERROR, logger="nodes.ssh"):
            assert await own.run(target, "echo one") == "one\n"
            assert await asyncio.wait_for(seen.get(), 10) == (target, "hooked\n")
            await asyncio.sleep(0.1)
        assert "on_connect hook crashed" in caplog.text  # logged, the pool carries on
        fail = False
        assert await own.run(target, "echo two") == "two\n"  # same connection: no hook
        await asyncio.sleep(0.2)
        assert seen.empty()

        node.stop_sshd()
        node.start_sshd()
        for _ in range(3):  # the first command may find the old connection dead
            try:
                assert await own.run(target, "echo three") == "three\n"
                break
            except NodeError:
                await asyncio.sleep(0.2)
        assert await asyncio.wait_for(seen.get(), 10) == (target, "hooked\n")

        own.drop(target.name)
        await own.run(target, "true")
        assert await asyncio.wait_for(seen.get(), 10) == (target, "hooked\n")
        assert seen.empty()
    finally:
        await own.close()


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_close_cancels_a_running_hook(key_path: Path, target: NodeTarget) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(connected: NodeTarget) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    pool = SshPool(key_path, connect_timeout=2, on_connect=slow)
    await pool.run(target, "true")
    await asyncio.wait_for(started.wait(), 5)
    await pool.close()
    assert cancelled.is_set()
