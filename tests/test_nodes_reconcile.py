"""Reconcile: the pure plan, and applying it to a real node with a live client session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nodes import (
    NodeTarget,
    PeerSpec,
    PeerState,
    ReconcilePlan,
    SshPool,
    WireGuard,
    apply_reconcile,
    generate_preshared_key,
    generate_private_key,
    plan_reconcile,
    public_key,
)
from nodes.peers import parse_dump
from tests.netlab import Lab, LabNode
from tests.nodes_support import RecordingPool

PSK = generate_preshared_key()


def key() -> str:
    return public_key(generate_private_key())


def state(pub: str, ips: tuple[str, ...], psk: str | None = PSK) -> PeerState:
    return PeerState(pub, None, ips, None, 0, 0, psk)


# -- the plan (pure) -------------------------------------------------------------------------


def test_plan_adds_removes_updates_and_is_sorted() -> None:
    a, b, c, d, e = sorted(key() for _ in range(5))
    desired = [
        PeerSpec(c, PSK, ("10.8.0.4/32",)),
        PeerSpec(a, PSK, ("10.8.0.2/32",)),
        PeerSpec(b, PSK, ("10.8.0.3/32",)),
        PeerSpec(e, PSK, ("10.8.0.6/32",)),
    ]
    actual = [
        state(b, ("10.8.0.3/32",)),  # same
        state(c, ("10.8.0.99/32",)),  # moved
        state(d, ("10.8.0.5/32",)),  # stray
        state(e, ("10.8.0.6/32",), psk=generate_preshared_key()),  # psk changed
    ]
    plan = plan_reconcile(desired, actual)
    assert [p.public_key for p in plan.add] == [a]
    assert plan.remove == (d,)
    assert [p.public_key for p in plan.update] == [c, e]
    assert plan.changed
    assert plan.size == 4
    assert plan.summary() == "add 1, remove 1, update 2"
    assert PSK not in repr(plan) and PSK not in plan.summary()


def test_plan_no_op_and_empty() -> None:
    a = key()
    desired = [PeerSpec(a, PSK, ("10.8.0.2/32", "fd00::2/128"))]
    plan = plan_reconcile(desired, [state(a, ("fd00::2/128", "10.8.0.2/32"))])
    assert plan == ReconcilePlan()
    assert not plan.changed
    assert plan.summary() == "add 0, remove 0, update 0"
    assert plan_reconcile([], []) == ReconcilePlan()
    assert plan_reconcile([], [state(a, ())]).remove == (a,)


@pytest.mark.parametrize(
    ("wanted", "present", "changed"),
    [
        (("10.8.0.2",), ("10.8.0.2/32",), False),  # a bare address is a /32
        (("fd00:0:0::2/128",), ("fd00::2/128",), False),  # IPv6 written differently
        ((" 10.8.0.2/32",), ("10.8.0.2/32",), False),
        (("10.8.0.2/32", "10.8.0.2/32"), ("10.8.0.2/32",), False),  # a set
        (("10.8.0.2/32",), ("10.8.0.2/32", "10.8.0.3/32"), True),
        ((), ("10.8.0.2/32",), True),
    ],
)
def test_allowed_ips_are_compared_as_normalized_sets(
    wanted: tuple[str, ...], present: tuple[str, ...], changed: bool
) -> None:
    a = key()
    plan = plan_reconcile([PeerSpec(a, PSK, wanted)], [state(a, present)])
    assert plan.changed is changed


def test_plan_missing_psk_and_bad_input() -> None:
    a = key()
    assert plan_reconcile([PeerSpec(a, PSK, ())], [state(a, (), psk=None)]).update
    assert not plan_reconcile([PeerSpec(a, "", ())], [state(a, (), psk=None)]).changed
    with pytest.raises(ValueError, match="twice"):
        plan_reconcile([PeerSpec(a, PSK, ()), PeerSpec(a, PSK, ())], [])
    with pytest.raises(ValueError, match="invalid allowed IPs"):
        plan_reconcile([PeerSpec(a, PSK, ("10.8.0.300/32",))], [state(a, ())])


def test_kept_peers_are_never_removed() -> None:
    ours, foreign, stray = key(), key(), key()
    actual = [state(foreign, ("10.8.0.2/32",)), state(stray, ("10.8.0.9/32",), psk=None)]
    plan = plan_reconcile([PeerSpec(ours, PSK, ("10.8.0.3/32",))], actual, {foreign})
    assert plan.remove == (stray,) and [p.public_key for p in plan.add] == [ours]


def test_dump_carries_the_preshared_key_but_repr_hides_it() -> None:
    pub = key()
    dump = f"priv\tpub\t51820\toff\n{pub}\t{PSK}\t(none)\t10.8.0.2/32\t0\t0\t0\toff\n"
    dump += f"{key()}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
    with_psk, without = parse_dump(dump)
    assert with_psk.preshared_key == PSK
    assert without.preshared_key is None
    assert PSK not in repr(with_psk)


# -- applied to a real node --------------------------------------------------------------------

root = pytest.mark.root


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_node("r1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


def spec(host: int, private: str | None = None) -> PeerSpec:
    private = private or generate_private_key()
    ip = f"10.8.{host // 250}.{host % 250 + 2}/32"
    return PeerSpec(public_key(private), generate_preshared_key(), (ip,))


def on_node(node: LabNode) -> dict[str, PeerState]:
    return {p.public_key: p for p in parse_dump(node.wg_dump())}


def assert_matches(node: LabNode, desired: list[PeerSpec]) -> None:
    live = on_node(node)
    assert set(live) == {p.public_key for p in desired}
    for peer in desired:
        assert set(live[peer.public_key].allowed_ips) == set(peer.allowed_ips)
        assert live[peer.public_key].preshared_key == peer.preshared_key
    conf = node.config_path.read_text()
    assert conf.count("[Peer]") == len(desired)
    assert all(f"PublicKey = {p.public_key}" in conf for p in desired)


@root
@pytest.mark.timeout(60)
async def test_drift_fixed_by_small_reconcile(
    pool: RecordingPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    desired = [spec(10), spec(11), spec(12)]
    plan = await wg.reconcile(target, desired)
    assert plan.summary() == "add 3, remove 0, update 0"
    await wg.saved(target)
    assert_matches(node, desired)
    assert await wg.reconcile(target, desired) == ReconcilePlan()  # no-op: nothing sent
    assert not any("wg set" in c for c in pool.commands[-1:])

    # drift by hand: one peer removed, a stray one added, one moved to another address
    stray = spec(99)
    node.exec("wg", "set", node.interface, "peer", desired[0].public_key, "remove")
    node.exec("wg", "set", node.interface, "peer", stray.public_key, "allowed-ips", "10.8.0.99/32")
    node.exec(
        "wg", "set", node.interface, "peer", desired[1].public_key, "allowed-ips", "10.8.0.50/32"
    )
    pool.commands.clear()
    pool.stdins.clear()
    plan = await wg.reconcile(target, desired)
    assert plan.summary() == "add 1, remove 1, update 1"
    await wg.saved(target)
    assert_matches(node, desired)
    assert stray.public_key not in node.config_path.read_text()
    (apply,) = [c for c in pool.commands if "addconf" in c]
    assert "showconf" not in apply, "the save follows apart, coalesced"
    assert f"wg set {node.interface} peer {stray.public_key} remove" in apply
    assert f"wg addconf {node.interface} /dev/stdin" in apply and "syncconf" not in apply
    assert all(p.preshared_key not in c for c in pool.commands for p in desired)
    sent = pool.stdins[pool.commands.index(apply)]
    assert sent is not None and sent.count("[Peer]") == 2
    assert all(f"PresharedKey = {p.preshared_key}" in sent for p in desired[:2])


@root
@pytest.mark.timeout(60)
async def test_large_reconcile_keeps_a_live_session(
    pool: RecordingPool, target: NodeTarget, node: LabNode, lab: Lab
) -> None:
    wg = WireGuard(pool)
    client_private = generate_private_key()
    client = spec(0, client_private)
    other = spec(1)
    stray = spec(2)
    await wg.reconcile(target, [client, other, stray])
    lab.client.up(
        "[Interface]\n"
        f"PrivateKey = {client_private}\n"
        "Address = 10.8.0.2/32\n\n"
        "[Peer]\n"
        f"PublicKey = {node.public_key}\n"
        f"PresharedKey = {client.preshared_key}\n"
        f"Endpoint = {node.endpoint}\n"
        "AllowedIPs = 0.0.0.0/0\n"
    )
    try:
        assert lab.client.fetch_source_ip() == node.ip
        handshake = lab.client.latest_handshake()
        before = await wg.interface(target)
        changed = PeerSpec(other.public_key, other.preshared_key, ("10.8.0.77/32",))
        desired = [client, changed, *(spec(1000 + i) for i in range(300))]
        pool.commands.clear()
        started = time.monotonic()
        plan = await wg.reconcile(target, desired)
        elapsed = time.monotonic() - started
        assert plan.summary() == "add 300, remove 1, update 1"
        assert any(f"wg addconf {node.interface} /dev/stdin" in c for c in pool.commands)
        assert elapsed < 20
        await wg.saved(target)
        assert_matches(node, desired)
        assert await wg.interface(target) == before  # same key, port, addresses
        assert lab.client.fetch_source_ip() == node.ip
        assert lab.client.latest_handshake() == handshake  # the session was never interrupted
        (live,) = [p for p in await wg.peers(target) if p.public_key == client.public_key]
        assert live.latest_handshake == datetime.fromtimestamp(handshake, UTC)
        # and back down to one peer: the removals in one `wg set`
        assert (await wg.reconcile(target, [client])).summary() == "add 0, remove 301, update 0"
        await wg.saved(target)
        assert_matches(node, [client])
        assert lab.client.fetch_source_ip() == node.ip
    finally:
        lab.client.down()


@root
@pytest.mark.timeout(60)
async def test_a_kept_peer_keeps_its_key_and_session_through_a_large_reconcile(
    pool: RecordingPool, target: NodeTarget, node: LabNode, lab: Lab
) -> None:
    """A peer made by hand (the bot never had its preshared key) survives a reconcile that adds
    300 peers and a pass down to none: same allowed IPs and key, the session uninterrupted."""
    wg = WireGuard(pool)
    await wg.reconcile(target, [])
    client_private = generate_private_key()
    by_hand = spec(0, client_private)
    psk_file = node.dir / "by-hand.psk"
    psk_file.write_text(by_hand.preshared_key + "\n")
    node.exec(
        "wg", "set", node.interface, "peer", by_hand.public_key,
        "preshared-key", str(psk_file), "allowed-ips", "10.8.0.2/32",
    )  # fmt: skip
    lab.client.up(
        "[Interface]\n"
        f"PrivateKey = {client_private}\nAddress = 10.8.0.2/32\n\n"
        "[Peer]\n"
        f"PublicKey = {node.public_key}\nPresharedKey = {by_hand.preshared_key}\n"
        f"Endpoint = {node.endpoint}\nAllowedIPs = 0.0.0.0/0\n"
    )
    try:
        assert lab.client.fetch_source_ip() == node.ip
        handshake = lab.client.latest_handshake()
        keep = {by_hand.public_key}
        desired = [spec(2000 + i) for i in range(300)]
        plan = await wg.reconcile(target, desired, keep)
        assert plan.summary() == "add 300, remove 0, update 0"
        assert any(f"wg addconf {node.interface} /dev/stdin" in c for c in pool.commands)
        await wg.saved(target)
        assert_matches(node, [by_hand, *desired])
        assert lab.client.fetch_source_ip() == node.ip
        assert lab.client.latest_handshake() == handshake
        assert (await wg.reconcile(target, [], keep)).summary() == "add 0, remove 300, update 0"
        await wg.saved(target)
        assert_matches(node, [by_hand])
        assert by_hand.public_key in node.config_path.read_text()
        assert lab.client.fetch_source_ip() == node.ip
    finally:
        lab.client.down()
        await wg.reconcile(target, [])


@root
@pytest.mark.timeout(60)
async def test_apply_refuses_bad_values_before_sending(
    pool: RecordingPool, target: NodeTarget
) -> None:
    good = spec(5)
    bad = [
        PeerSpec("$(reboot)", good.preshared_key, good.allowed_ips),
        PeerSpec(good.public_key, "not-a-key", good.allowed_ips),
        PeerSpec(good.public_key, good.preshared_key, ("10.8.0.1/24",)),  # host bits set
    ]
    for peer in bad:
        for many in (False, True):
            extra = tuple(spec(600 + i) for i in range(25)) if many else ()
            plan = ReconcilePlan(add=(peer, *extra))
            with pytest.raises(ValueError, match="invalid"):
                await apply_reconcile(pool, target, plan)
    assert pool.commands == []
