"""WireGuard operations on a node: read the interface, add/remove peers, dump, load."""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface
from typing import TYPE_CHECKING

from nodes.dump import PeerState, parse_dump
from nodes.errors import NodeError
from nodes.keys import is_valid_key
from nodes.ssh import SshPool
from nodes.target import NodeTarget

if TYPE_CHECKING:
    from nodes.probe import Probe
    from nodes.reconcile import ReconcilePlan

log = logging.getLogger(__name__)

_IFACE_RE = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """A node's WireGuard interface as it runs."""

    public_key: str
    listen_port: int
    addresses: tuple[IPv4Interface | IPv6Interface, ...]


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """A peer to put on a node."""

    public_key: str
    preshared_key: str = field(repr=False)
    allowed_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """1-minute load average and CPU count of a node."""

    load1: float
    cpus: int


def _iface(target: NodeTarget) -> str:
    if not _IFACE_RE.fullmatch(target.interface):
        raise ValueError(f"invalid interface name for node {target.name}")
    return target.interface


def _key(text: str, what: str) -> str:
    if not is_valid_key(text):
        raise ValueError(f"invalid {what}")
    return shlex.quote(text)


def _networks(values: tuple[str, ...]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(v, strict=True)) for v in values]
    except ValueError:
        raise ValueError("invalid allowed IPs") from None


def _allowed_ips(values: tuple[str, ...]) -> str:
    return shlex.quote(",".join(_networks(values)))


def _persist(iface: str) -> str:
    # wg-quick save writes IFACE.conf.tmp then mv's it; the tmp name is fixed, so saves
    # on the same node must not overlap: serialise them with flock on the node.
    lock = shlex.quote(f"/run/lock/vpnservice-wg-{iface}.lock")
    return f"flock -w 20 {lock} wg-quick save {shlex.quote(iface)}"


_CHECK = (
    "command -v wg >/dev/null 2>&1 || {{ echo 'wg not installed' >&2; exit 3; }}; "
    "ip -o link show dev {iface} 2>/dev/null | grep -q '[<,]UP[,>]' "
    "|| {{ echo 'interface {iface} is missing or down' >&2; exit 4; }}; "
)


class WireGuard:
    """Drives `wg` and `wg-quick` on nodes through an SshPool."""

    def __init__(self, pool: SshPool) -> None:
        self._pool = pool

    async def interface(self, target: NodeTarget) -> InterfaceInfo:
        """Public key, listen port and addresses of the node's interface."""
        iface = shlex.quote(_iface(target))
        command = _CHECK.format(iface=iface) + (
            f"wg show {iface} public-key && wg show {iface} listen-port "
            f"&& ip -o addr show dev {iface}"
        )
        out = await self._pool.run(target, command)
        lines = out.splitlines()
        if len(lines) < 2 or not is_valid_key(lines[0].strip()):
            raise NodeError(target.name, f"interface {target.interface} has no private key set")
        try:
            port = int(lines[1].strip())
        except ValueError:
            raise NodeError(target.name, "unexpected `wg show listen-port` output") from None
        addresses: list[IPv4Interface | IPv6Interface] = []
        for line in lines[2:]:
            words = line.split()
            for i, word in enumerate(words[:-1]):
                if word in ("inet", "inet6") and "link" not in words[i + 2 : i + 4]:
                    addresses.append(ipaddress.ip_interface(words[i + 1]))
        return InterfaceInfo(lines[0].strip(), port, tuple(addresses))

    async def add_peer(self, target: NodeTarget, peer: PeerSpec) -> None:
        """Add or update a peer live and persist the node's config, in one round trip."""
        iface = _iface(target)
        pub = _key(peer.public_key, "public key")
        _key(peer.preshared_key, "preshared key")
        ips = _allowed_ips(peer.allowed_ips)
        command = (
            f"wg set {shlex.quote(iface)} peer {pub} preshared-key /dev/stdin allowed-ips {ips} "
            f"&& {_persist(iface)}"
        )
        await self._pool.run(target, command, stdin=peer.preshared_key + "\n")
        log.info("node %s: peer %s added", target.name, peer.public_key)

    async def remove_peer(self, target: NodeTarget, public_key: str) -> None:
        """Remove a peer live and persist; an absent peer is not an error."""
        iface = _iface(target)
        pub = _key(public_key, "public key")
        command = f"wg set {shlex.quote(iface)} peer {pub} remove && {_persist(iface)}"
        await self._pool.run(target, command)
        log.info("node %s: peer %s removed", target.name, public_key)

    async def peers(self, target: NodeTarget) -> list[PeerState]:
        """Every peer on the node's interface with its traffic and last handshake."""
        out = await self._pool.run(target, f"wg show {shlex.quote(_iface(target))} dump")
        try:
            return parse_dump(out)
        except ValueError as exc:
            raise NodeError(target.name, str(exc)) from None

    async def private_key(self, target: NodeTarget) -> str:
        """The running interface's private key, to adopt a node (store it encrypted; never log)."""
        iface = shlex.quote(_iface(target))
        out = await self._pool.run(
            target, _CHECK.format(iface=iface) + f"wg show {iface} private-key"
        )
        key = out.strip()
        if not is_valid_key(key):
            raise NodeError(target.name, f"interface {target.interface} has no private key set")
        return key

    async def probe(self, target: NodeTarget) -> Probe:
        """Load, memory, interface state and peers in one round trip (see nodes.probe)."""
        from nodes.probe import probe  # it builds on this module

        return await probe(self._pool, target)

    async def reconcile(self, target: NodeTarget, desired: Iterable[PeerSpec]) -> ReconcilePlan:
        """Make the node's peers equal desired, live and persisted; returns what was done."""
        from nodes.reconcile import apply_reconcile, plan_reconcile  # it builds on this module

        wanted = tuple(desired)
        plan = plan_reconcile(wanted, await self.peers(target))
        await apply_reconcile(self._pool, target, plan, wanted)
        return plan

    async def load(self, target: NodeTarget) -> NodeLoad:
        """Load average over the last minute and number of CPUs."""
        out = await self._pool.run(target, "cat /proc/loadavg && nproc")
        try:
            loadavg, cpus = out.splitlines()[:2]
            return NodeLoad(float(loadavg.split()[0]), int(cpus))
        except (ValueError, IndexError):
            raise NodeError(target.name, "unexpected load output") from None
