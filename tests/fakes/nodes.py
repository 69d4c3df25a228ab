"""An in-process stand-in for nodes.WireGuard: peers and the grace firewall kept in memory, nodes
can be switched off."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from nodes import InterfaceInfo, NodeError, NodeTarget, PeerSpec, PeerState
from nodes.amnezia import AmneziaParams
from nodes.firewall import Action, GracePlan
from nodes.grace_layout import GraceSets
from nodes.keys import generate_private_key, public_key
from nodes.probe import Probe
from nodes.reconcile import ReconcilePlan, plan_reconcile
from nodes.wireguard import parse_obfuscation


@dataclass
class FakeNode:
    private_key: str
    public_key: str
    listen_port: int = 51820
    addresses: tuple[str, ...] = ("10.8.0.1/24",)
    peers: dict[str, PeerSpec] = field(default_factory=dict)
    handshakes: dict[str, PeerState] = field(default_factory=dict)
    up: bool = True
    obfuscation: str = ""  # an AmneziaWG node's parameter lines, as `awg showconf` shows them
    round_trips: dict[str, float | None] = field(default_factory=dict)  # ms by address: ping
    grace: GraceSets | None = None  # the grace firewall's sets; None: no table (a fresh node)
    nft: bool = True  # nft is installed

    @property
    def in_grace(self) -> set[str]:
        """The addresses the grace firewall limits now."""
        sets = self.grace or GraceSets()
        return {str(address) for address in (*sets.grace4, *sets.grace6)}


class FakeWireGuard:
    """Same methods as nodes.WireGuard; every call is recorded as (node, action, public key)."""

    def __init__(self) -> None:
        self.nodes: dict[str, FakeNode] = {}
        self.log: list[tuple[str, str, str]] = []
        self.down: dict[str, str] = {}  # marked down by the health probes, as SshPool keeps it

    def add_node(self, name: str, addresses: tuple[str, ...] = ("10.8.0.1/24",)) -> FakeNode:
        private = generate_private_key()
        node = FakeNode(private, public_key(private), addresses=addresses)
        self.nodes[name] = node
        return node

    def _node(self, target: NodeTarget, *, even_if_down: bool = False) -> FakeNode:
        if target.name in self.down and not even_if_down:
            raise NodeError(target.name, f"node is down ({self.down[target.name]})")
        node = self.nodes.get(target.name)
        if node is None or not node.up:
            raise NodeError(target.name, "connection refused")
        return node

    def set_down(self, name: str, reason: str | None) -> None:
        if reason is None:
            self.down.pop(name, None)
        else:
            self.down[name] = reason

    def forget(self, name: str) -> None:
        self.down.pop(name, None)

    async def saved(self, target: NodeTarget | None = None) -> None:
        """Every change is saved at once here."""

    async def interface(self, target: NodeTarget) -> InterfaceInfo:
        node = self._node(target)
        addresses = tuple(ipaddress.ip_interface(a) for a in node.addresses)
        return InterfaceInfo(node.public_key, node.listen_port, addresses)

    async def add_peer(self, target: NodeTarget, peer: PeerSpec) -> None:
        node = self._node(target)
        for other in list(node.peers.values()):  # like wg: allowed IPs move to the new peer
            if (
                set(other.allowed_ips) & set(peer.allowed_ips)
                and other.public_key != peer.public_key
            ):
                remaining = tuple(ip for ip in other.allowed_ips if ip not in peer.allowed_ips)
                node.peers[other.public_key] = PeerSpec(
                    other.public_key, other.preshared_key, remaining
                )
        node.peers[peer.public_key] = peer
        self.log.append((target.name, "add", peer.public_key))

    async def remove_peer(self, target: NodeTarget, public_key: str) -> None:
        node = self._node(target)
        node.peers.pop(public_key, None)
        self.log.append((target.name, "remove", public_key))

    async def peers(self, target: NodeTarget) -> list[PeerState]:
        return self._states(self._node(target))

    @staticmethod
    def _states(node: FakeNode) -> list[PeerState]:
        return [
            node.handshakes.get(key) or PeerState(key, None, spec.allowed_ips, None, 0, 0)
            for key, spec in node.peers.items()
        ]

    async def private_key(self, target: NodeTarget) -> str:
        return self._node(target).private_key

    async def obfuscation(self, target: NodeTarget) -> AmneziaParams | None:
        if not target.amnezia:
            return None
        try:
            return parse_obfuscation(self._node(target).obfuscation)
        except ValueError as error:
            raise NodeError(target.name, str(error)) from None

    async def reconcile(
        self, target: NodeTarget, desired: Iterable[PeerSpec], keep: Collection[str] = ()
    ) -> ReconcilePlan:
        node = self._node(target, even_if_down=True)
        wanted = tuple(desired)
        actual = [
            PeerState(key, None, spec.allowed_ips, None, 0, 0, spec.preshared_key)
            for key, spec in node.peers.items()
        ]
        plan = plan_reconcile(wanted, actual, keep)
        for key in plan.remove:
            del node.peers[key]
        node.peers.update((peer.public_key, peer) for peer in wanted)
        self.log.append((target.name, "reconcile", plan.summary()))
        return plan

    async def ping(self, target: NodeTarget, addresses: Sequence[str]) -> tuple[float | None, ...]:
        node = self._node(target)
        self.log.append((target.name, "ping", ",".join(addresses)))
        return tuple(node.round_trips.get(address) for address in addresses)

    async def probe(self, target: NodeTarget) -> Probe:
        peers = tuple(self._states(self._node(target, even_if_down=True)))
        return Probe(True, 0.5, 2, 2 << 30, 1 << 30, peers, 0.01)

    async def grace(self, target: NodeTarget, sets: GraceSets) -> GracePlan:
        node = self._node(target, even_if_down=True)
        if not node.nft:
            if sets.in_grace:
                raise NodeError(target.name, "nft is not installed: cannot limit grace")
            return GracePlan(Action.NONE)
        if node.grace == sets:
            return GracePlan(Action.NONE)
        plan = GracePlan(Action.UPDATE, sets.diff(node.grace or GraceSets()))
        node.grace = sets
        self.log.append((target.name, "grace", plan.summary()))
        return plan
