"""The fleet of nodes: adding one (adopt or bootstrap), restoring one, listing and checking them."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.cipher import SecretCipher
from db.models import ForeignPeer, Node, NodeStatus
from nodes import NodeError, NodeLoad, NodeTarget, PeerState, SshPool, WireGuard
from nodes.amnezia import (
    AMNEZIA_MTU,
    AMNEZIAWG,
    PROTOCOLS,
    VERSIONS,
    WIREGUARD,
    AmneziaParams,
    generate,
)
from nodes.bootstrap import BOOTSTRAP_STEPS, InterfacePlan, bootstrap
from nodes.hostkeys import (
    algorithm,
    canonical,
    check_given,
    describe,
    same_key,
    shown,
    token,
)
from nodes.keys import generate_private_key, is_valid_key
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import (
    HostKeyMismatch,
    HostKeyNotAccepted,
    InvalidInput,
    NodeKeyUnknown,
    NodeNotFound,
    NodeSetupFailed,
)
from services.hostkeys import HostKeyService
from services.placement import device_counts
from services.reconcile import ReconcileResult, ReconcileService
from services.targets import amnezia_of, target_of

SERVER_KEY = "server_private_key"
SETUP_STEPS = BOOTSTRAP_STEPS  # what `add` reports to its progress callback, in order
Progress = Callable[[str], Awaitable[None]]
SshAddress = tuple[str, str, int]  # user, host, port

DEFAULT_SUBNET4 = "10.8.0.1/20"  # 4,093 devices
NODE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,14}$")
INTERFACE_NAME = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")
HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:]+\]?$")


PROTOCOL_NAMES = {"wg": WIREGUARD, WIREGUARD: WIREGUARD, "awg": AMNEZIAWG, AMNEZIAWG: AMNEZIAWG}
AMNEZIA_VERSIONS = VERSIONS


def default_mtu(protocol: str) -> int:
    """A new node's tunnel MTU: lower on AmneziaWG, whose S4 pads every data packet."""
    return AMNEZIA_MTU if protocol == AMNEZIAWG else 1420


@dataclass(frozen=True, slots=True)
class NodeCheck:
    """What an admin sees of a node right now."""

    node: Node
    devices: int
    foreign: int
    reachable: bool
    peers: int | None
    load: NodeLoad | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewNode:
    """A node to add; the subnet and port are used only when the node needs a bootstrap."""

    name: str
    ssh_host: str
    ssh_port: int = 22
    ssh_user: str = "root"
    interface: str = "wg0"
    endpoint: str | None = None
    region: str = ""
    dns: str | None = None  # None: the operator's DEFAULT_DNS
    mtu: int = 1420
    listen_port: int = 51820
    subnet4: str = DEFAULT_SUBNET4
    subnet6: str | None = None
    protocol: str = "wireguard"
    amnezia_version: str = "2.0"

    def validate(self) -> None:
        """Raise InvalidInput naming the first field that is wrong."""
        checks = {
            "name": bool(NODE_NAME.match(self.name)),
            "ssh_host": bool(HOST.match(self.ssh_host)),
            "ssh_port": 0 < self.ssh_port < 65536,
            "ssh_user": bool(re.match(r"^[a-z_][a-z0-9_-]{0,31}$", self.ssh_user)),
            "interface": bool(INTERFACE_NAME.match(self.interface)),
            "endpoint": self.endpoint is None or valid_endpoint(self.endpoint),
            "region": len(self.region) <= 64 and self.region.isprintable(),
            "dns": self.dns is None or _valid_dns(self.dns),
            "mtu": 1280 <= self.mtu <= 1500,
            "listen_port": 0 < self.listen_port < 65536,
            "subnet4": _valid_interface(self.subnet4, 4),
            "subnet6": self.subnet6 is None or _valid_interface(self.subnet6, 6),
            "protocol": self.protocol in PROTOCOLS,
            "amnezia_version": self.amnezia_version in VERSIONS,
        }
        for field, ok in checks.items():
            if not ok:
                raise InvalidInput(field=field)


def valid_endpoint(endpoint: str) -> bool:
    """HOST:PORT, with an IPv6 host in brackets."""
    host, sep, port = endpoint.rpartition(":")
    return bool(sep and HOST.match(host) and port.isdigit() and 0 < int(port) < 65536)


def parse_ssh_address(text: str) -> SshAddress:
    """`ssh://USER@HOST[:PORT]` into (user, host, port); InvalidInput for anything else."""
    try:
        parts = urlsplit(text)
        port = parts.port or 22
    except ValueError:
        raise InvalidInput(field="ssh") from None
    if parts.scheme != "ssh" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise InvalidInput(field="ssh")
    user = parts.username or "root"
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", user) or not HOST.match(parts.hostname):
        raise InvalidInput(field="ssh")
    return user, parts.hostname, port


def _valid_interface(text: str, version: int) -> bool:
    """An address with its prefix, like 10.8.0.1/24, leaving room for clients."""
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        return False
    limit = 30 if version == 4 else 126
    return (
        interface.version == version
        and interface.network.prefixlen <= limit
        and interface.ip != interface.network.network_address
    )


def _valid_dns(dns: str) -> bool:
    try:
        return all(ipaddress.ip_address(part.strip()) for part in dns.split(","))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ScannedKey:
    """A host key a node presented: its OpenSSH line and its fingerprint as people read it."""

    line: str
    fingerprint: str  # SHA256:… (ED25519), as `ssh-keygen -lf` shows it
    token: str  # the SHA256 fingerprint without its prefix: what a button carries

    @classmethod
    def of(cls, line: str) -> ScannedKey:
        return cls(canonical(line), describe(line), token(line))


@dataclass(frozen=True, slots=True)
class Restored:
    """A rebuilt node and the reconcile that put its peers back."""

    node: Node
    reconcile: ReconcileResult


class FleetService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: SshPool,
        wireguard: WireGuard,
        cipher: SecretCipher,
        reconcile: ReconcileService,
        host_keys: HostKeyService,
        *,
        default_dns: str,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._pool = pool
        self._wireguard = wireguard
        self._cipher = cipher
        self._reconcile = reconcile
        self.host_keys = host_keys  # nodes' SSH host keys: the admin chat accepts them here
        self.default_dns = default_dns
        self._clock = clock

    async def scan(self, new: NewNode) -> ScannedKey:
        """The SSH host key the new node presents, for the operator to check before anything
        changes on the node; NodeSetupFailed when it cannot be read."""
        new.validate()
        if await self.named(new.name) is not None:
            raise InvalidInput(field="name")
        try:
            line = await self._pool.scan_host_key(new.ssh_host, new.ssh_port, name=new.name)
        except NodeError as error:
            raise NodeSetupFailed(node=new.name, reason=error.reason) from error
        return ScannedKey.of(line)

    async def add(
        self,
        actor_id: int,
        new: NewNode,
        progress: Progress | None = None,
        *,
        host_key: str | None = None,
    ) -> Node:
        """Pin the node's host key, then adopt its running interface or bootstrap it, and store
        it enabled with its server key encrypted; NodeSetupFailed says why the node refused.
        The peers an adopted interface already has are kept as the node's foreign peers
        (`foreign_count` says how many). With `host_key` (a public key line or its SHA256
        fingerprint) the node must present that key, else HostKeyMismatch and nothing is
        changed on it. The attempt is audited as the actor's, whether it worked or not."""
        if host_key is not None:
            host_key = _given_key(host_key)
        try:
            node = await self._add(new, progress, host_key)
        except NodeError as error:
            await self._audit(actor_id, AuditAction.ADD_NODE, new.name, f"failed: {error.reason}")
            raise NodeSetupFailed(node=new.name, reason=error.reason) from error
        except HostKeyMismatch as error:
            offered = error.args_for_text.get("offered", "?")
            details = f"failed: host key {offered} is not the one expected"
            await self._audit(actor_id, AuditAction.ADD_NODE, new.name, details)
            raise
        kept = await self.foreign_count(node.id)
        details = f"endpoint={node.endpoint} host_key={describe(node.host_key)} foreign={kept}"
        await self._audit(actor_id, AuditAction.ADD_NODE, node.name, details)
        return node

    async def _audit(self, actor_id: int, action: AuditAction, node: str, details: str) -> None:
        async with self._sessions.begin() as session:
            record(session, self._clock, actor_id, action, node, details)

    async def _add(self, new: NewNode, progress: Progress | None, expected: str | None) -> Node:
        new.validate()
        if await self.named(new.name) is not None:
            raise InvalidInput(field="name")
        host_key = await self._pool.scan_host_key(new.ssh_host, new.ssh_port, name=new.name)
        if expected is not None and not same_key(host_key, expected):
            raise HostKeyMismatch(
                node=new.name, expected=shown(expected), offered=describe(host_key)
            )
        target = NodeTarget(
            name=new.name,
            host=new.ssh_host,
            port=new.ssh_port,
            username=new.ssh_user,
            host_key=host_key,
            interface=new.interface,
            amnezia=new.protocol == AMNEZIAWG,
        )
        amnezia: AmneziaParams | None = None
        found: list[PeerState] = []
        if (await self._wireguard.probe(target)).interface_up:
            info = await self._wireguard.interface(target)
            found = await self._wireguard.peers(target)
            if not all(is_valid_key(peer.public_key) for peer in found):
                raise NodeError(new.name, f"{new.interface} lists a peer with a malformed key")
            private_key = await self._wireguard.private_key(target)
            amnezia = await self._wireguard.obfuscation(target)
        else:
            private_key = generate_private_key()
            if target.amnezia:
                amnezia = generate(new.amnezia_version, mtu=new.mtu)
            plan = InterfacePlan(
                interface=new.interface,
                private_key=private_key,
                listen_port=new.listen_port,
                address4=new.subnet4,
                address6=new.subnet6,
                mtu=new.mtu,
                amnezia=amnezia,
            )
            info = await bootstrap(self._pool, target, plan, progress=progress)
        v4 = [a for a in info.addresses if a.version == 4 and a.network.num_addresses >= 4]
        v6 = [a for a in info.addresses if a.version == 6 and not a.ip.is_link_local]
        if not v4:
            raise NodeError(new.name, f"{new.interface} has no IPv4 subnet to give out")
        node = Node(
            name=new.name,
            region=new.region,
            ssh_host=new.ssh_host,
            ssh_port=new.ssh_port,
            ssh_user=new.ssh_user,
            host_key=host_key,
            interface=new.interface,
            endpoint=new.endpoint or f"{_bare_host(new.ssh_host)}:{info.listen_port}",
            public_key=info.public_key,
            private_key_enc=self._cipher.encrypt(private_key, SERVER_KEY),
            listen_port=info.listen_port,
            server_address4=str(v4[0]),
            server_address6=str(v6[0]) if v6 else None,
            dns=new.dns or self.default_dns,
            mtu=new.mtu,
            status=NodeStatus.ENABLED,
            protocol=new.protocol,
            obfuscation=amnezia.to_json() if amnezia is not None else None,
        )
        now = self._clock()
        async with self._sessions.begin() as session:  # with its foreign peers, or not at all
            session.add(node)
            await session.flush()
            session.add_all(
                ForeignPeer(
                    node_id=node.id,
                    public_key=peer.public_key,
                    allowed_ips=",".join(peer.allowed_ips),
                    found_at=now,
                )
                for peer in found
            )
        return node

    async def restore(
        self,
        actor_id: int,
        name: str,
        address: SshAddress | None = None,
        progress: Progress | None = None,
        *,
        host_key: str | None = None,
    ) -> Restored:
        """Rebuild a wiped or replaced machine with the node's stored key, port and subnet,
        then put its peers back with a reconcile. NodeSetupFailed says why not. Audited.

        A machine that presents another SSH host key than the pinned one is refused
        (HostKeyNotAccepted; the admins are told and may accept the key), unless `host_key`
        names exactly the key it presents: then that key is pinned (audited) and it goes on."""
        if host_key is not None:
            host_key = _given_key(host_key)
        try:
            node = await self._restore(actor_id, name, address, progress, host_key)
        except NodeError as error:
            await self._audit(actor_id, AuditAction.RESTORE_NODE, name, f"failed: {error.reason}")
            raise NodeSetupFailed(node=name, reason=error.reason) from error
        except (HostKeyNotAccepted, HostKeyMismatch) as error:
            offered = error.args_for_text.get("offered", "?")
            details = f"failed: the node presents another host key {offered}"
            await self._audit(actor_id, AuditAction.RESTORE_NODE, name, details)
            raise
        result = await self._reconcile.reconcile(node, report=False)
        await self._audit(actor_id, AuditAction.RESTORE_NODE, name, result.details)
        return Restored(node, result)

    async def _restore(
        self,
        actor_id: int,
        name: str,
        address: SshAddress | None,
        progress: Progress | None,
        expected: str | None,
    ) -> Node:
        node = await self.named(name)
        if node is None:
            raise NodeNotFound(node=name)
        if node.private_key_enc is None:
            raise NodeKeyUnknown(node=name)
        if address is not None:
            node.ssh_user, node.ssh_host, node.ssh_port = address
        seen = await self._pool.scan_host_key(
            node.ssh_host, node.ssh_port, name=name, prefer=_algorithm(node.host_key)
        )
        if not same_key(node.host_key, seen):
            if expected is None:
                await self.host_keys.offered(name, seen)
                pinned, offered = describe(node.host_key), describe(seen)
                raise HostKeyNotAccepted(node=name, pinned=pinned, offered=offered)
            await self.host_keys.pin(actor_id, name, seen, expected)
            node.host_key = canonical(seen)
        self._wireguard.forget(name)
        plan = InterfacePlan(
            interface=node.interface,
            private_key=self._cipher.decrypt(node.private_key_enc, SERVER_KEY),
            listen_port=node.listen_port,
            address4=node.server_address4,
            address6=node.server_address6,
            mtu=node.mtu,
            amnezia=amnezia_of(node),
        )
        info = await bootstrap(self._pool, target_of(node), plan, progress=progress)
        if info.public_key != node.public_key:
            raise NodeError(name, "the restored interface has a different public key")
        async with self._sessions.begin() as session:
            stored = await session.get_one(Node, node.id)
            stored.ssh_user, stored.ssh_host, stored.ssh_port = (
                node.ssh_user,
                node.ssh_host,
                node.ssh_port,
            )
        return node

    async def named(self, name: str) -> Node | None:
        async with self._sessions() as session:
            return await session.scalar(select(Node).where(Node.name == name))

    async def all(self) -> Sequence[Node]:
        async with self._sessions() as session:
            return (await session.scalars(select(Node).order_by(Node.name))).all()

    async def get(self, node_id: int) -> Node:
        async with self._sessions() as session:
            node = await session.get(Node, node_id)
        if node is None:
            raise NodeNotFound()
        return node

    async def device_counts(self) -> dict[int, int]:
        async with self._sessions() as session:
            return await device_counts(session)

    async def foreign_count(self, node_id: int) -> int:
        """How many foreign peers the node keeps."""
        return (await self._foreign_counts()).get(node_id, 0)

    async def _foreign_counts(self) -> dict[int, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(ForeignPeer.node_id, func.count()).group_by(ForeignPeer.node_id)
            )
            return {node_id: count for node_id, count in rows.all()}

    async def health(self) -> list[NodeCheck]:
        """Every node checked over SSH at once: reachable, live peers, load."""
        counts, foreign = await self.device_counts(), await self._foreign_counts()
        nodes = await self.all()
        return list(
            await asyncio.gather(
                *(self._check(n, counts.get(n.id, 0), foreign.get(n.id, 0)) for n in nodes)
            )
        )

    async def _check(self, node: Node, devices: int, foreign: int) -> NodeCheck:
        """One probe (one SSH round trip) of the node."""
        try:
            result = await self._wireguard.probe(target_of(node))
        except NodeError as error:
            return NodeCheck(node, devices, foreign, False, None, None, error.reason)
        if not result.interface_up:
            reason = "WireGuard interface is down"
            return NodeCheck(node, devices, foreign, False, None, None, reason)
        load = NodeLoad(result.load1, result.cpus)
        return NodeCheck(node, devices, foreign, True, len(result.peers), load, None)


def _algorithm(host_key: str) -> str | None:
    """The pinned key's algorithm, to ask the node for a key of the same type."""
    try:
        return algorithm(host_key)
    except ValueError:
        return None


def _given_key(text: str) -> str:
    """A host key or SHA256 fingerprint the operator typed; InvalidInput for anything else."""
    try:
        return check_given(text)
    except ValueError:
        raise InvalidInput(field="host_key") from None


def _bare_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
