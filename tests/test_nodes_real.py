"""nodes/ against real sshd and WireGuard (wireguard-go) in network namespaces."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
import qrcode

from nodes import (
    NodeError,
    NodeTarget,
    PeerSpec,
    SshPool,
    WireGuard,
    generate_preshared_key,
    generate_private_key,
    public_key,
)
from nodes.commands import add_peer_command
from nodes.errors import HostKeyChanged
from tests.netlab import Lab, LabNode, decode_qr
from tests.nodes_support import RecordingPool

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        pub = SshPool.ensure_client_key(key_path)
        lab.add_node("n1", wg_subnet6="fd00:213::1/64", authorized_key=pub)
        yield lab


def new_peer(host: int) -> tuple[str, PeerSpec]:
    private = generate_private_key()
    spec = PeerSpec(
        public_key(private), generate_preshared_key(), (f"10.8.{host // 250}.{host % 250 + 2}/32",)
    )
    return private, spec


def test_client_key_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "bot"
    line = SshPool.ensure_client_key(path)
    assert line.startswith("ssh-ed25519 ")
    assert path.stat().st_mode & 0o777 == 0o600
    assert SshPool.ensure_client_key(path) == line


async def test_scan_host_key(pool: SshPool, node: LabNode) -> None:
    assert await pool.scan_host_key(node.ip, node.ssh_port) == node.host_key


async def test_interface_reads_key_port_and_subnets(
    pool: SshPool, target: NodeTarget, node: LabNode
) -> None:
    info = await WireGuard(pool).interface(target)
    assert info.public_key == node.public_key
    assert info.listen_port == node.listen_port
    assert [str(a) for a in info.addresses] == ["10.8.0.1/24", "fd00:213::1/64"]


async def test_interface_missing_is_clear_error(pool: SshPool, target: NodeTarget) -> None:
    missing = NodeTarget(target.name, target.host, host_key=target.host_key, interface="wgnone")
    with pytest.raises(NodeError, match="interface wgnone is missing or down"):
        await WireGuard(pool).interface(missing)


async def test_add_and_remove_peer_live_and_persisted(
    pool: RecordingPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    _, peer = new_peer(1000)
    await wg.add_peer(target, peer)
    (state,) = [p for p in await wg.peers(target) if p.public_key == peer.public_key]
    assert state.allowed_ips == peer.allowed_ips
    await wg.saved(target)
    conf = node.config_path.read_text()
    assert f"PublicKey = {peer.public_key}" in conf
    assert f"PresharedKey = {peer.preshared_key}" in conf
    assert all(peer.preshared_key not in c for c in pool.commands)
    assert peer.preshared_key + "\n" in pool.stdins

    await wg.remove_peer(target, peer.public_key)
    assert peer.public_key not in {p.public_key for p in await wg.peers(target)}
    await wg.saved(target)
    assert peer.public_key not in node.config_path.read_text()
    await wg.remove_peer(target, peer.public_key)  # absent: not an error
    await wg.saved(target)


async def test_bad_values_never_reach_the_node(pool: RecordingPool, target: NodeTarget) -> None:
    wg = WireGuard(pool)
    _, good = new_peer(1001)
    bad_iface = NodeTarget("n1", target.host, host_key=target.host_key, interface="wg0; reboot")
    cases = [
        wg.add_peer(target, PeerSpec("x; rm -rf /", good.preshared_key, good.allowed_ips)),
        wg.add_peer(target, PeerSpec(good.public_key, "short", good.allowed_ips)),
        wg.add_peer(target, PeerSpec(good.public_key, good.preshared_key, ("10.8.0.0/33",))),
        wg.add_peer(target, PeerSpec(good.public_key, good.preshared_key, ("1.2.3.4 -x",))),
        wg.remove_peer(target, "$(reboot)"),
        wg.peers(bad_iface),
    ]
    for case in cases:
        with pytest.raises(ValueError, match="invalid"):
            await case
    assert pool.commands == []


async def test_tunnel_carries_traffic_across_peer_changes(
    pool: SshPool, target: NodeTarget, node: LabNode, lab: Lab
) -> None:
    wg = WireGuard(pool)
    private, peer = new_peer(0)
    peer = PeerSpec(peer.public_key, peer.preshared_key, ("10.8.0.2/32", "fd00:213::2/128"))
    await wg.add_peer(target, peer)
    assert lab.client.fetch_source_ip() is None  # no tunnel, no route to the target
    lab.client.up(
        "[Interface]\n"
        f"PrivateKey = {private}\n"
        "Address = 10.8.0.2/32, fd00:213::2/128\n"
        "DNS = 10.8.0.1\n\n"
        "[Peer]\n"
        f"PublicKey = {node.public_key}\n"
        f"PresharedKey = {peer.preshared_key}\n"
        f"Endpoint = {node.endpoint}\n"
        "AllowedIPs = 0.0.0.0/0, ::/0\n"
    )
    try:
        assert lab.client.fetch_source_ip() == node.ip
        handshake = lab.client.latest_handshake()
        assert handshake > 0
        _, other = new_peer(1002)
        await wg.add_peer(target, other)
        assert lab.client.fetch_source_ip() == node.ip
        await wg.remove_peer(target, other.public_key)
        assert lab.client.fetch_source_ip() == node.ip
        assert lab.client.latest_handshake() == handshake  # same session, no re-handshake
        (state,) = [p for p in await wg.peers(target) if p.public_key == peer.public_key]
        assert state.latest_handshake is not None
        assert state.rx_bytes > 0
    finally:
        lab.client.down()
        await wg.remove_peer(target, peer.public_key)


async def test_wrong_host_key_is_refused(key_path: Path, target: NodeTarget) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    pool = SshPool(key_path, connect_timeout=2)
    try:
        with pytest.raises(HostKeyChanged, match="host key changed") as refused:
            await pool.run(
                NodeTarget(target.name, target.host, host_key=other, interface="wg0"), "true"
            )
        assert refused.value.offered == target.host_key  # what it presented, to be judged
        with pytest.raises(NodeError, match="not pinned"):
            await pool.run(NodeTarget(target.name, target.host), "true")
    finally:
        await pool.close()


async def test_unknown_client_key_is_refused(tmp_path: Path, target: NodeTarget) -> None:
    stranger = tmp_path / "stranger"
    SshPool.ensure_client_key(stranger)
    pool = SshPool(stranger, connect_timeout=2)
    try:
        with pytest.raises(NodeError, match="authentication failed"):
            await pool.run(target, "true")
    finally:
        await pool.close()


async def test_sshd_down_fails_fast_then_reconnects(
    pool: SshPool, target: NodeTarget, node: LabNode
) -> None:
    assert await pool.run(target, "echo hi") == "hi\n"
    node.stop_sshd()
    try:
        started = time.monotonic()
        with pytest.raises(NodeError, match=f"^{target.name}: ") as info:
            await pool.run(target, "echo hi")
        assert time.monotonic() - started < 3
        assert "refused" in str(info.value) or "connection lost" in str(info.value)
    finally:
        node.start_sshd()
    assert await pool.run(target, "echo back") == "back\n"


async def test_command_failure_and_timeout(pool: SshPool, target: NodeTarget) -> None:
    with pytest.raises(NodeError, match=r"exit 7\): boom"):
        await pool.run(target, "echo boom >&2; exit 7")
    started = time.monotonic()
    with pytest.raises(NodeError, match="timed out"):
        await pool.run(target, "sleep 10", timeout=0.5)
    assert time.monotonic() - started < 3
    assert await pool.run(target, "cat", stdin="secret-free") == "secret-free"


async def test_silent_tcp_listener_times_out(key_path: Path) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never says a word
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = SshPool(key_path, connect_timeout=1)
    silent = NodeTarget("silent", "127.0.0.1", port, host_key=SshPool.ensure_client_key(key_path))
    try:
        for call in (pool.run(silent, "true"), pool.scan_host_key("127.0.0.1", port)):
            started = time.monotonic()
            with pytest.raises(NodeError, match="timed out"):
                await call
            assert time.monotonic() - started < 2.5
    finally:
        await pool.close()
        server.close()


async def test_connection_refused(key_path: Path, node: LabNode) -> None:
    pool = SshPool(key_path, connect_timeout=2)
    closed = NodeTarget("n1", node.ip, 2222, host_key=node.host_key)
    with pytest.raises(NodeError, match="n1: connection refused"):
        await pool.run(closed, "true")


async def test_fifty_concurrent_add_peer_over_one_connection(
    pool: SshPool, target: NodeTarget, node: LabNode
) -> None:
    wg = WireGuard(pool)
    peers = [new_peer(2000 + i)[1] for i in range(50)]
    await asyncio.gather(*(wg.add_peer(target, p) for p in peers))
    assert len(pool._conns) == 1
    on_node = {p.public_key for p in await wg.peers(target)}
    assert {p.public_key for p in peers} <= on_node
    await wg.saved(target)
    conf = node.config_path.read_text()
    assert all(p.public_key in conf for p in peers)
    await asyncio.gather(*(wg.remove_peer(target, p.public_key) for p in peers))
    assert not {p.public_key for p in peers} & {p.public_key for p in await wg.peers(target)}
    await wg.saved(target)


async def test_closed_connection_is_never_success(
    pool: SshPool, target: NodeTarget, node: LabNode
) -> None:
    """A command cut off by its connection closing fails (it used to return "" as success)."""
    marker = node.dir / "cut-off"
    running = asyncio.create_task(pool.run(target, f"sleep 1 && touch {marker}"))
    await asyncio.sleep(0.3)
    pool.drop(target.name)
    with pytest.raises(NodeError, match="connection lost"):
        await running
    assert await pool.run(target, "echo back") == "back\n"


async def test_add_peer_without_preshared_key_on_stdin_fails(
    pool: SshPool, target: NodeTarget
) -> None:
    """`wg` reads an empty key file as "no preshared key": the command must refuse instead."""
    _, peer = new_peer(1002)
    for stdin in ("", None, peer.preshared_key[:20]):
        with pytest.raises(NodeError, match="preshared key missing on stdin"):
            await pool.run(target, add_peer_command(target, peer), stdin=stdin)
    assert peer.public_key not in {p.public_key for p in await WireGuard(pool).peers(target)}


def test_decode_qr_round_trips_a_config(lab: Lab) -> None:
    text = "[Interface]\nPrivateKey = " + generate_private_key() + "\nAddress = 10.8.0.2/32\n"
    image = qrcode.make(text)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    assert decode_qr(buf.getvalue()) == text
