"""1,000 concurrent add_peer on one real node over one pooled connection: none may be lost.

sshd refuses sessions in such a burst ("no more sessions": it frees a session's slot a
little after the session ended). The pool used to answer a refusal by closing the shared
connection, and the commands cut off on it came back as successes: add_peer returned for
peers that were never added (8-20 of 1,000).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import (
    NodeTarget,
    PeerSpec,
    SshPool,
    WireGuard,
    generate_preshared_key,
    generate_private_key,
    parse_dump,
    public_key,
)
from tests.netlab import Lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

PEERS = 1_000
BUDGET_S = 40.0


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def _peers(count: int) -> list[PeerSpec]:
    return [
        PeerSpec(
            public_key(generate_private_key()),
            generate_preshared_key(),
            (f"10.72.{1 + i // 250}.{2 + i % 250}/32",),
        )
        for i in range(count)
    ]


async def test_thousand_concurrent_add_peer_all_live_and_saved(
    lab: Lab, key_path: Path, tmp_path: Path
) -> None:
    node = lab.add_node(
        "burst",
        wg_subnet="10.72.0.1/16",
        listen_port=51823,
        authorized_key=SshPool.ensure_client_key(key_path),
    )
    node.use_plain_root_home(tmp_path / "node-home")
    target = NodeTarget(node.name, node.ip, host_key=node.host_key, interface=node.interface)
    pool = SshPool(key_path, command_timeout=60)
    wireguard = WireGuard(pool)
    peers = _peers(PEERS)
    try:
        await wireguard.peers(target)  # connected, like a running bot
        conn = next(iter(pool._conns.values()))
        started = time.perf_counter()
        results = await asyncio.gather(
            *(wireguard.add_peer(target, peer) for peer in peers), return_exceptions=True
        )
        seconds = time.perf_counter() - started
        assert [r for r in results if r is not None] == []
        await wireguard.saved(target)
        # a refused session never costs the shared connection (nor the commands on it)
        assert list(pool._conns.values()) == [conn]
    finally:
        await pool.close()

    wanted = {peer.public_key: peer for peer in peers}
    live = {state.public_key: state for state in parse_dump(node.wg_dump())}
    assert sorted(set(wanted) - set(live)) == []
    assert len(live) == PEERS
    assert all(live[k].allowed_ips == p.allowed_ips for k, p in wanted.items())
    dump = node.wg_dump().splitlines()[1:]
    psks = {line.split("\t")[0]: line.split("\t")[1] for line in dump}
    assert all(psks[k] == p.preshared_key for k, p in wanted.items())
    saved = node.config_path.read_text()
    assert saved.count("\nPublicKey = ") == PEERS
    assert all(f"PublicKey = {k}\nPresharedKey = {p.preshared_key}\n" in saved
               for k, p in wanted.items())  # fmt: skip
    assert seconds < BUDGET_S, f"{PEERS} add_peer took {seconds:.1f} s"
