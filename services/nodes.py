"""Nodes: adopting a running WireGuard server, listing nodes with their load, checking them."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Device, Node, NodeStatus
from nodes import NodeError, NodeLoad, NodeTarget, SshPool, WireGuard
from services.errors import InvalidInput, NodeNotFound

NODE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,14}$")
INTERFACE_NAME = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")
HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:]+\]?$")


def target_of(node: Node) -> NodeTarget:
    return NodeTarget(
        name=node.name,
        host=node.ssh_host,
        port=node.ssh_port,
        username=node.ssh_user,
        host_key=node.host_key,
        interface=node.interface,
    )


@dataclass(frozen=True, slots=True)
class NodeChoice:
    """A node a user may pick, with how many devices it serves."""

    id: int
    name: str
    region: str
    devices: int

    @property
    def label(self) -> str:
        return f"{self.name} · {self.region}" if self.region else self.name


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What an admin sees of a node right now."""

    node: Node
    devices: int
    reachable: bool
    peers: int | None
    load: NodeLoad | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewNode:
    name: str
    ssh_host: str
    ssh_port: int = 22
    ssh_user: str = "root"
    interface: str = "wg0"
    endpoint: str | None = None
    region: str = ""
    dns: str = "1.1.1.1, 1.0.0.1"
    mtu: int = 1420

    def validate(self) -> None:
        """Raise InvalidInput naming the first field that is wrong."""
        checks = {
            "name": bool(NODE_NAME.match(self.name)),
            "ssh_host": bool(HOST.match(self.ssh_host)),
            "ssh_port": 0 < self.ssh_port < 65536,
            "ssh_user": bool(re.match(r"^[a-z_][a-z0-9_-]{0,31}$", self.ssh_user)),
            "interface": bool(INTERFACE_NAME.match(self.interface)),
            "endpoint": self.endpoint is None or _valid_endpoint(self.endpoint),
            "region": len(self.region) <= 64 and self.region.isprintable(),
            "dns": _valid_dns(self.dns),
            "mtu": 1280 <= self.mtu <= 1500,
        }
        for field, ok in checks.items():
            if not ok:
                raise InvalidInput(field=field)


def _valid_endpoint(endpoint: str) -> bool:
    host, sep, port = endpoint.rpartition(":")
    return bool(sep and HOST.match(host) and port.isdigit() and 0 < int(port) < 65536)


def _valid_dns(dns: str) -> bool:
    try:
        return all(ipaddress.ip_address(part.strip()) for part in dns.split(","))
    except ValueError:
        return False


class NodeService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], pool: SshPool, wireguard: WireGuard
    ) -> None:
        self._sessions = sessions
        self._pool = pool
        self._wireguard = wireguard

    async def adopt(self, new: NewNode) -> Node:
        """Pin the node's host key, read its running interface and store it as enabled."""
        new.validate()
        async with self._sessions() as session:
            if await session.scalar(select(Node.id).where(Node.name == new.name)) is not None:
                raise InvalidInput(field="name")
        host_key = await self._pool.scan_host_key(new.ssh_host, new.ssh_port, name=new.name)
        target = NodeTarget(
            name=new.name,
            host=new.ssh_host,
            port=new.ssh_port,
            username=new.ssh_user,
            host_key=host_key,
            interface=new.interface,
        )
        info = await self._wireguard.interface(target)
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
            listen_port=info.listen_port,
            server_address4=str(v4[0]),
            server_address6=str(v6[0]) if v6 else None,
            dns=new.dns,
            mtu=new.mtu,
        )
        async with self._sessions.begin() as session:
            session.add(node)
        return node

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
            rows = await session.execute(
                select(Device.node_id, func.count()).group_by(Device.node_id)
            )
            return {node_id: count for node_id, count in rows.all()}

    async def choices(self) -> list[NodeChoice]:
        """Enabled nodes for a user to pick, least loaded first."""
        counts = await self.device_counts()
        nodes = [node for node in await self.all() if node.status is NodeStatus.ENABLED]
        choices = [NodeChoice(n.id, n.name, n.region, counts.get(n.id, 0)) for n in nodes]
        return sorted(choices, key=lambda choice: (choice.devices, choice.name))

    async def health(self) -> list[NodeHealth]:
        """Every node checked over SSH at once: reachable, live peers, load."""
        counts = await self.device_counts()
        nodes = await self.all()
        return list(await asyncio.gather(*(self._check(n, counts.get(n.id, 0)) for n in nodes)))

    async def _check(self, node: Node, devices: int) -> NodeHealth:
        target = target_of(node)
        try:
            peers, load = await asyncio.gather(
                self._wireguard.peers(target), self._wireguard.load(target)
            )
        except NodeError as error:
            return NodeHealth(node, devices, False, None, None, error.reason)
        return NodeHealth(node, devices, True, len(peers), load, None)


def _bare_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
