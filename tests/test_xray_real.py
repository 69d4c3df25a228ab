"""nodes/xray against the real Xray (the xray-core wheel) on a lab node, reached over SSH, with a
real Xray client built from the vless:// link and a real TLS site as the handshake target."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import NodeError, NodeTarget, SshPool
from nodes.reality import (
    RealityInbound,
    ServerOptions,
    XrayUser,
    generate_private_key,
    generate_short_id,
    server_config,
)
from nodes.xray import Xray
from services.vlesslinks import VlessLink
from tests.netlab import Lab, LabNode
from tests.xraylab import (
    SITE_NAME,
    SOCKS_PORT,
    OpenStream,
    XrayProcess,
    add_client_address,
    add_tls_site,
    client_config,
    socks_fetch,
    start_echo,
    tls_probe,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]
PORT = 443
ECHO_PORT = 7001


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_node("x1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


@pytest.fixture(scope="module")
def site(lab: Lab) -> tuple[str, str]:
    return add_tls_site(lab)


@pytest.fixture(scope="module")
def inbound(site: tuple[str, str]) -> RealityInbound:
    return RealityInbound(
        generate_private_key(), (generate_short_id(),), f"{site[0]}:443", SITE_NAME
    )


@pytest.fixture(scope="module")
def server(lab: Lab, inbound: RealityInbound) -> Iterator[XrayProcess]:
    node = lab.nodes[0]
    process = XrayProcess(node.ns, node.dir / "xray.json", node.dir / "xray.log")
    options = ServerOptions(allow_networks=(f"{lab.target_ip}/32",))
    process.config.write_text(server_config(inbound, [], options))
    process.start(PORT, node.ip)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(lab: Lab) -> Iterator[XrayProcess]:
    process = XrayProcess(lab.client.ns, lab.dir / "client.json", lab.dir / "client.log")
    yield process
    process.stop()


def link_for(node: LabNode, inbound: RealityInbound, user: XrayUser) -> str:
    return str(
        VlessLink(
            user.id, node.ip, PORT, inbound.server_name, inbound.public_key,
            inbound.short_ids[0], f"{node.name} #1",
        )
    )  # fmt: skip


def connect(lab: Lab, client: XrayProcess, link: str) -> str | None:
    client.config.write_text(client_config(link))
    client.start(SOCKS_PORT)
    return socks_fetch(lab, lab.target_ip, lab.target_port)


def user(n: int) -> XrayUser:
    return XrayUser(f"d{n}", str(uuid.uuid4()))


async def test_users_are_changed_live_and_the_link_follows(
    lab: Lab,
    node: LabNode,
    target: NodeTarget,
    pool: SshPool,
    inbound: RealityInbound,
    server: XrayProcess,
    client: XrayProcess,
) -> None:
    xray = Xray(pool)
    alice, bob = user(1), user(2)
    plan = await xray.reconcile(target, [alice, bob], port=PORT)
    assert plan.added == ("d1", "d2") and plan.removed == ()
    assert sorted(await xray.users(target), key=lambda u: u.email) == [alice, bob]

    link = link_for(node, inbound, alice)
    assert connect(lab, client, link) == node.ip  # through the node, with its address

    await xray.remove_user(target, alice.email)
    assert connect(lab, client, link) is None
    await xray.remove_user(target, alice.email)  # again: no change, no error

    await xray.add_user(target, alice)  # renewal: the same id, the same link works again
    await xray.add_user(target, alice)
    assert connect(lab, client, link) == node.ip

    made_up = XrayUser("d1", str(uuid.uuid4()))
    assert connect(lab, client, link_for(node, inbound, made_up)) is None


async def test_traffic_is_counted_per_user_and_read_once(
    lab: Lab,
    node: LabNode,
    target: NodeTarget,
    pool: SshPool,
    inbound: RealityInbound,
    server: XrayProcess,
    client: XrayProcess,
) -> None:
    xray = Xray(pool)
    carol = user(3)
    await xray.reconcile(target, [carol], port=PORT)
    await xray.traffic(target)  # zero every counter
    line = connect(lab, client, link_for(node, inbound, carol))
    assert line == node.ip
    counted = await xray.traffic(target)
    assert counted["d3"] == (0, len(node.ip) + 1)  # the target's one line, to the byte
    assert (await xray.traffic(target)).get("d3", (0, 0)) == (0, 0)


async def test_a_prober_sees_the_handshake_target_and_a_wiped_xray_is_restored(
    lab: Lab,
    node: LabNode,
    target: NodeTarget,
    pool: SshPool,
    inbound: RealityInbound,
    site: tuple[str, str],
    server: XrayProcess,
    client: XrayProcess,
) -> None:
    assert tls_probe(lab, node.ip, PORT, SITE_NAME) == site[1]

    xray = Xray(pool, config_path=str(server.config))
    users = [user(n) for n in range(10, 15)]
    await xray.write_config(
        target,
        server_config(inbound, users, ServerOptions(allow_networks=(f"{lab.target_ip}/32",))),
    )
    assert server.config.stat().st_mode & 0o777 == 0o600
    await xray.reconcile(target, users, port=PORT)
    server.config.write_text(
        server_config(inbound, [], ServerOptions(allow_networks=(f"{lab.target_ip}/32",)))
    )
    server.start(PORT, node.ip)  # wiped: a fresh Xray that serves nobody
    assert await xray.users(target) == []
    plan = await xray.reconcile(target, users, port=PORT)
    assert len(plan.added) == 5
    for each in users:
        assert connect(lab, client, link_for(node, inbound, each)) == node.ip


async def test_removed_users_lose_their_open_connections_and_nobody_else_does(
    lab: Lab,
    node: LabNode,
    target: NodeTarget,
    pool: SshPool,
    inbound: RealityInbound,
    server: XrayProcess,
) -> None:
    xray = Xray(pool)
    alice, bob, carol = user(20), user(21), user(22)
    await xray.reconcile(target, [alice, bob, carol], port=PORT)
    elsewhere = add_client_address(lab, 4)
    echo = start_echo(lab, ECHO_PORT)
    # alice and carol behind one address (one NAT), bob behind another
    sources = {alice: lab.client.ip, bob: elsewhere, carol: lab.client.ip}
    clients, streams = [], {}
    try:
        for n, (each, source) in enumerate(sources.items(), start=1):
            process = XrayProcess(lab.client.ns, lab.dir / f"c{n}.json", lab.dir / f"c{n}.log")
            clients.append(process)
            link = link_for(node, inbound, each)
            process.config.write_text(client_config(link, SOCKS_PORT + n, source))
            process.start(SOCKS_PORT + n)
            streams[each] = OpenStream(lab, SOCKS_PORT + n, lab.target_ip, ECHO_PORT)
            assert streams[each].echoes()

        plan = await xray.reconcile(target, [alice], port=PORT)  # bob's and carol's access ended
        assert plan.removed == ("d21", "d22")
        assert not streams[bob].echoes()  # his open connection is closed
        assert streams[alice].echoes() and streams[alice].echoes()
        # carol's connection comes from alice's address: closing it would close alice's too,
        # so it runs on until it ends (her new connections are refused)
        assert streams[carol].echoes()
    finally:
        for stream in streams.values():
            stream.close()
        for process in clients:
            process.stop()
        echo.terminate()
        echo.wait()


async def test_no_xray_is_a_clear_node_error(pool: SshPool, target: NodeTarget) -> None:
    with pytest.raises(NodeError, match="xray GetInboundUsers failed: UNAVAILABLE"):
        await Xray(pool, api_port=10999).users(target)
