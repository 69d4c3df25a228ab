"""Node benchmarks: 1,000 concurrent peer adds, and a 10,000-peer reconcile under a live session."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.naive import NaiveWireGuard
from bench.stats import Row
from nodes import NodeTarget, PeerSpec, SshPool, WireGuard, parse_dump
from nodes.commands import interface_name
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from tests.netlab import Lab, LabNode

ADD_PEERS = 1_000
RECONCILE_PEERS = 10_000
RECONCILE_CHANGES = 100
ADD_SUBNET = "10.72.0.1/16"
RECONCILE_SUBNET = "10.71.0.1/16"
CLIENT_IP = "2"  # host part of the client's address in the subnet's first /24
RESTART_TIMEOUT = 300.0
GAP_LIMIT = 60.0  # give up waiting for the naive client's traffic to come back after this


@dataclass
class AddFigures:
    """Seconds to add every peer concurrently, and what the node holds afterwards."""

    seconds: float = 0.0
    saves: int = 0
    live: int = 0
    saved: int = 0


@dataclass
class SyncFigures:
    """Seconds per reconcile step and whether the client's session lived through it."""

    first_s: float = 0.0
    noop_s: float = 0.0
    changes_s: float = 0.0  # until the changes are live (the project's reconcile returns)
    changes_saved_s: float = 0.0  # until the node's config file holds them too
    back_s: float = 0.0  # change returned -> first reply through the client's tunnel
    handshake_kept: bool = False
    live: int = 0
    saved: int = 0
    notes: list[str] = field(default_factory=list)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _peers(count: int, prefix: str, first_octet: int = 1) -> list[PeerSpec]:
    """count peers with fresh keys on PREFIX.X.Y/32, X from first_octet, Y in 2..251."""
    return [
        PeerSpec(
            public_key(generate_private_key()),
            generate_preshared_key(),
            (f"{prefix}.{first_octet + i // 250}.{2 + i % 250}/32",),
        )
        for i in range(count)
    ]


def _saved_keys(lab_node: LabNode) -> int:
    return lab_node.config_path.read_text().count("\nPublicKey = ")


def _node(lab: Lab, name: str, subnet: str, public: str, workdir: Path, as_is: bool) -> LabNode:
    lab_node = lab.add_node(name, wg_subnet=subnet, listen_port=51822, authorized_key=public)
    if not as_is:
        lab_node.use_plain_root_home(workdir / f"{name}-node-home")
    return lab_node


def _target(lab_node: LabNode) -> NodeTarget:
    return NodeTarget(
        lab_node.name, lab_node.ip, host_key=lab_node.host_key, interface=lab_node.interface
    )


async def add_many(wireguard: WireGuard, lab_node: LabNode) -> AddFigures:
    """ADD_PEERS add_peer calls at once on one node (like a burst of new devices)."""
    target = _target(lab_node)
    peers = _peers(ADD_PEERS, ADD_SUBNET.split(".0.")[0])
    await wireguard.peers(target)  # a running bot is already connected
    started = time.perf_counter()
    await asyncio.gather(*(wireguard.add_peer(target, peer) for peer in peers))
    figures = AddFigures(seconds=time.perf_counter() - started)
    figures.saves = ADD_PEERS if isinstance(wireguard, NaiveWireGuard) else wireguard.saves(target)
    figures.live = len(parse_dump(lab_node.wg_dump()))
    figures.saved = _saved_keys(lab_node)
    return figures


class Session:
    """The lab client connected through one node, with its peer on that node."""

    def __init__(self, lab: Lab, lab_node: LabNode, subnet: str) -> None:
        self.lab = lab
        self.node = lab_node
        self.private = generate_private_key()
        prefix = subnet.split(".0.")[0]
        self.peer = PeerSpec(
            public_key(self.private), generate_preshared_key(), (f"{prefix}.0.{CLIENT_IP}/32",)
        )
        self.handshake = 0

    def up(self) -> None:
        """Connect the client and check traffic flows through the node."""
        self.lab.client.up(
            "[Interface]\n"
            f"PrivateKey = {self.private}\n"
            f"Address = {self.peer.allowed_ips[0]}\n\n"
            "[Peer]\n"
            f"PublicKey = {self.node.public_key}\n"
            f"PresharedKey = {self.peer.preshared_key}\n"
            f"Endpoint = {self.node.endpoint}\n"
            "AllowedIPs = 0.0.0.0/0\n"
        )
        if self.lab.client.fetch_source_ip() != self.node.ip:
            raise RuntimeError(f"bench: no traffic through {self.node.name} before the run")
        self.handshake = self.lab.client.latest_handshake()

    def first_reply(self) -> float:
        """Seconds until a request through the tunnel is answered by the target."""
        started = time.perf_counter()
        while self.lab.client.fetch_source_ip(timeout=1) != self.node.ip:
            if time.perf_counter() - started > GAP_LIMIT:
                return float("inf")
        return time.perf_counter() - started

    def kept(self) -> bool:
        """The client still has the session it started with (no new handshake)."""
        return self.lab.client.latest_handshake() == self.handshake


async def reconcile_project(lab: Lab, lab_node: LabNode, pool: SshPool) -> SyncFigures:
    """WireGuard.reconcile: 10,000 new peers, the same set again, then 100 changes."""
    wireguard = WireGuard(pool)
    target = _target(lab_node)
    session = Session(lab, lab_node, RECONCILE_SUBNET)
    prefix = RECONCILE_SUBNET.split(".0.")[0]
    peers = _peers(RECONCILE_PEERS, prefix)
    moved = _peers(RECONCILE_CHANGES // 2, prefix, first_octet=100)
    await wireguard.add_peer(target, session.peer)
    session.up()
    figures = SyncFigures()
    try:
        started = time.perf_counter()
        plan = await wireguard.reconcile(target, [session.peer, *peers])
        figures.first_s = time.perf_counter() - started
        await wireguard.saved(target)
        figures.back_s = session.first_reply()
        figures.handshake_kept = session.kept()
        assert plan.size == RECONCILE_PEERS, plan.summary()

        started = time.perf_counter()
        plan = await wireguard.reconcile(target, [session.peer, *peers])
        figures.noop_s = time.perf_counter() - started
        assert not plan.changed, plan.summary()

        desired = [session.peer, *peers[RECONCILE_CHANGES // 2 :], *moved]
        started = time.perf_counter()
        plan = await wireguard.reconcile(target, desired)
        figures.changes_s = time.perf_counter() - started
        await wireguard.saved(target)
        figures.changes_saved_s = time.perf_counter() - started
        assert plan.size == RECONCILE_CHANGES, plan.summary()
        figures.back_s = max(figures.back_s, session.first_reply())
        figures.handshake_kept = figures.handshake_kept and session.kept()
    finally:
        lab.client.down()
    figures.live = len(parse_dump(lab_node.wg_dump()))
    figures.saved = _saved_keys(lab_node)
    return figures


def _restart_command(iface: str) -> str:
    quoted = shlex.quote(iface)
    return (
        f"umask 077 && cat > /etc/wireguard/{quoted}.conf.new "
        f"&& mv /etc/wireguard/{quoted}.conf.new /etc/wireguard/{quoted}.conf "
        f"&& wg-quick down {quoted} && wg-quick up {quoted}"
    )


def _config(head: str, peers: list[PeerSpec]) -> str:
    sections = [head.rstrip("\n") + "\n"]
    for peer in peers:
        sections.append(
            f"\n[Peer]\nPublicKey = {peer.public_key}\nPresharedKey = {peer.preshared_key}\n"
            f"AllowedIPs = {', '.join(peer.allowed_ips)}\n"
        )
    return "".join(sections)


async def reconcile_naive(lab: Lab, lab_node: LabNode, naive: NaiveWireGuard) -> SyncFigures:
    """A bot that rewrites the whole config and restarts the interface on every change."""
    target = _target(lab_node)
    iface = interface_name(target)
    session = Session(lab, lab_node, RECONCILE_SUBNET)
    prefix = RECONCILE_SUBNET.split(".0.")[0]
    peers = _peers(RECONCILE_PEERS, prefix)
    moved = _peers(RECONCILE_CHANGES // 2, prefix, first_octet=100)
    # the [Interface] section such a bot keeps in its database, private key included
    head = lab_node.config_path.read_text().split("[Peer]")[0]
    await naive.add_peer(target, session.peer)
    session.up()
    figures = SyncFigures()

    async def restart(desired: list[PeerSpec]) -> float:
        started = time.perf_counter()
        await naive.transport.run(
            target, _restart_command(iface), stdin=_config(head, desired), timeout=RESTART_TIMEOUT
        )
        return time.perf_counter() - started

    try:
        figures.first_s = await restart([session.peer, *peers])
        figures.back_s = session.first_reply()
        figures.handshake_kept = session.kept()
        _log(f"naive: restart with {RECONCILE_PEERS} peers {figures.first_s:.1f} s, "
             f"traffic back after {figures.back_s:.1f} s")  # fmt: skip
        figures.noop_s = await restart([session.peer, *peers])
        figures.changes_s = await restart([session.peer, *peers[RECONCILE_CHANGES // 2 :], *moved])
        figures.changes_saved_s = figures.changes_s  # the file is written before the restart
        figures.back_s = max(figures.back_s, session.first_reply())
        figures.handshake_kept = figures.handshake_kept and session.kept()
    finally:
        lab.client.down()
    figures.live = len(parse_dump(lab_node.wg_dump()))
    figures.saved = _saved_keys(lab_node)
    return figures


@dataclass
class NodeFigures:
    """Both variants' node figures."""

    add: dict[str, AddFigures] = field(default_factory=dict)
    sync: dict[str, SyncFigures] = field(default_factory=dict)


async def run_nodes(
    lab: Lab,
    workdir: Path,
    key: Path,
    public: str,
    *,
    as_is: bool,
    reconcile: bool = True,
    add: bool = True,
) -> NodeFigures:
    """Every node benchmark (the adds, the reconciles or both), project first, each variant on
    its own fresh node."""
    figures = NodeFigures()
    pool = SshPool(key, command_timeout=120)
    naive = NaiveWireGuard(key, workdir)
    try:
        for variant, wireguard in (("project", WireGuard(pool)), ("naive", naive)) if add else ():
            lab_node = _node(lab, f"{variant}-add", ADD_SUBNET, public, workdir, as_is)
            figures.add[variant] = result = await add_many(wireguard, lab_node)
            _log(f"{variant}: {ADD_PEERS} add_peer at once: {result.seconds:.1f} s, "
                 f"{result.saves} saves")  # fmt: skip
        if reconcile:
            lab_node = _node(lab, "project-sync", RECONCILE_SUBNET, public, workdir, as_is)
            figures.sync["project"] = sync = await reconcile_project(lab, lab_node, pool)
            _log(f"project: reconcile {RECONCILE_PEERS}: {sync.first_s:.1f} s")
            lab_node = _node(lab, "naive-sync", RECONCILE_SUBNET, public, workdir, as_is)
            figures.sync["naive"] = await reconcile_naive(lab, lab_node, naive)
    finally:
        await pool.close()
    return figures


def node_rows(figures: NodeFigures) -> list[Row]:
    """The node benchmarks as table rows."""
    rows = []
    if figures.add:
        project, naive = figures.add["project"], figures.add["naive"]
        rows += [
            Row(f"add_peer x{ADD_PEERS:,} at once, one node: total (s)",
                project.seconds, naive.seconds, digits=2),
            Row(f"add_peer x{ADD_PEERS:,} at once, one node: peers/s",
                ADD_PEERS / project.seconds, ADD_PEERS / naive.seconds, lower_is_better=False),
            Row(f"add_peer x{ADD_PEERS:,} at once: config saves", project.saves, naive.saves,
                digits=0),
        ]  # fmt: skip
    if figures.sync:
        project_s, naive_s = figures.sync["project"], figures.sync["naive"]
        n, c = f"{RECONCILE_PEERS:,}", RECONCILE_CHANGES
        rows += [
            Row(f"reconcile {n} new peers, live client (s)", project_s.first_s, naive_s.first_s,
                digits=2),
            Row("reconcile again, no change (s)", project_s.noop_s, naive_s.noop_s, digits=2),
            Row(f"reconcile {c} changes of {n}: live (s)", project_s.changes_s,
                naive_s.changes_s, digits=2),
            Row(f"reconcile {c} changes of {n}: live and saved (s)", project_s.changes_saved_s,
                naive_s.changes_saved_s, digits=2),
            Row("  live client: change done -> traffic flows (s)",
                project_s.back_s, naive_s.back_s, digits=2),
        ]  # fmt: skip
    return rows


def node_checks(figures: NodeFigures) -> dict[str, dict[str, object]]:
    """What the nodes hold afterwards and whether the live session survived."""
    checks: dict[str, dict[str, object]] = {}
    for variant, add in figures.add.items():
        checks[f"{variant} add"] = {
            "live_peers": add.live,
            "saved_peers": add.saved,
            "ok": add.live == add.saved == ADD_PEERS,
        }
    for variant, sync in figures.sync.items():
        expected = RECONCILE_PEERS + 1
        checks[f"{variant} reconcile"] = {
            "live_peers": sync.live,
            "saved_peers": sync.saved,
            "handshake_kept": sync.handshake_kept,
            "traffic_back_s": round(sync.back_s, 2),
            "ok": sync.live == sync.saved == expected,
        }
    return checks
