"""Where devices live: which node takes a device, the address it gets there, and moving
devices between nodes with an undo when the new node refuses them."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Device, Node, NodeHealth, NodeStatus
from nodes import NodeError, WireGuard
from nodes.amnezia import AMNEZIAWG, WIREGUARD
from services.clientconfig import DeviceConfigs
from services.errors import NodeFull, NodeNotFound, NodeUnavailable, NoNodes
from services.locks import NodeLocks
from services.notifier import Notifier
from services.targets import target_of

log = logging.getLogger(__name__)

ADDRESS_RETRIES = 5


@dataclass(frozen=True, slots=True)
class NodeChoice:
    """A node that takes devices now, with how many it serves and its last load."""

    id: int
    name: str
    region: str
    protocol: str
    devices: int
    load_percent: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} · {self.region}" if self.region else self.name


def ranked(
    choices: Sequence[NodeChoice], *, region: str | None = None, protocol: str | None = None
) -> list[NodeChoice]:
    """The one order in which nodes take devices: the wanted region first, then the wanted
    protocol, then the least loaded (fewest devices), then by name."""
    return sorted(
        choices,
        key=lambda choice: (
            region is not None and choice.region != region,
            protocol is not None and choice.protocol != protocol,
            choice.devices,
            choice.name,
        ),
    )


async def device_counts(session: AsyncSession) -> dict[int, int]:
    """Devices per node id."""
    rows = await session.execute(select(Device.node_id, func.count()).group_by(Device.node_id))
    return {node_id: count for node_id, count in rows.all()}


def free_addresses(server_address4: str, used: Collection[str]) -> Iterator[str]:
    """Addresses of the server's subnet held by neither the server nor a device, lowest first."""
    interface = ipaddress.IPv4Interface(server_address4)
    taken = {ipaddress.IPv4Address(address) for address in used}
    taken.add(interface.ip)
    return (str(host) for host in interface.network.hosts() if host not in taken)


def twin_address6(server_address6: str | None, address4: str, server_address4: str) -> str | None:
    """The IPv6 address holding the same host number in the node's v6 subnet, if it has one."""
    if server_address6 is None:
        return None
    network4 = ipaddress.IPv4Interface(server_address4).network
    network6 = ipaddress.IPv6Interface(server_address6).network
    offset = int(ipaddress.IPv4Address(address4)) - int(network4.network_address)
    return str(network6.network_address + offset)


@dataclass(frozen=True, slots=True)
class Moved:
    """A device given a place on another node, and where it was, to put it back."""

    device_id: int
    user_id: int
    node_id: int
    address4: str
    address6: str | None
    public_key: str


class Placement:
    """Chooses nodes and addresses for devices and moves them; every path that puts a device on
    a node (a new device, /server, /migrate, /drain) goes through here."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        configs: DeviceConfigs,
        node_locks: NodeLocks,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._configs = configs
        self._node_locks = node_locks
        self.notifier = notifier

    # --- which node ---------------------------------------------------------------------------

    async def choices(self, *, exclude: int | None = None) -> list[NodeChoice]:
        """Nodes that take devices now (enabled and not down by the probes), least loaded
        first."""
        async with self._sessions() as session:
            counts = await device_counts(session)
            rows = await session.execute(
                select(Node, NodeHealth)
                .outerjoin(NodeHealth, NodeHealth.node_id == Node.id)
                .where(Node.status == NodeStatus.ENABLED)
            )
            nodes = rows.all()
        choices = [
            NodeChoice(
                node.id,
                node.name,
                node.region,
                node.protocol,
                counts.get(node.id, 0),
                health.load_percent if health and health.checked_at else None,
            )
            for node, health in nodes
            if (health is None or health.up) and node.id != exclude
        ]
        return ranked(choices)

    async def usable(self, node_id: int) -> Node:
        """The node if it takes devices now; NodeNotFound otherwise."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Node, NodeHealth.up)
                    .outerjoin(NodeHealth, NodeHealth.node_id == Node.id)
                    .where(Node.id == node_id)
                )
            ).first()
        if row is None or row[0].status is not NodeStatus.ENABLED or row[1] is False:
            raise NodeNotFound()
        return row[0]

    async def for_new_device(self, preferred_node_id: int | None) -> Node:
        """The user's chosen node if it takes devices; else the best node of the chosen node's
        region, plain WireGuard first (AmneziaWG needs its own app, so it is chosen on purpose)."""
        region = None
        if preferred_node_id is not None:
            try:
                return await self.usable(preferred_node_id)
            except NodeNotFound:
                async with self._sessions() as session:
                    chosen = await session.get(Node, preferred_node_id)
                region = chosen.region if chosen else None
        best = ranked(await self.choices(), region=region, protocol=WIREGUARD)
        if not best:
            raise NoNodes()
        return await self._node(best[0].id)

    async def drain_target(self, source: Node) -> Node:
        """Where a draining node's devices go: its region and protocol first."""
        best = ranked(
            await self.choices(exclude=source.id), region=source.region, protocol=source.protocol
        )
        if not best:
            raise NodeNotFound(node=source.name)
        return await self._node(best[0].id)

    async def amnezia_choice(self) -> NodeChoice | None:
        """The least loaded AmneziaWG node that takes devices (for networks that block
        WireGuard), or None."""
        return next(
            (choice for choice in await self.choices() if choice.protocol == AMNEZIAWG), None
        )

    async def _node(self, node_id: int) -> Node:
        async with self._sessions() as session:
            return await session.get_one(Node, node_id)

    # --- a new device ---------------------------------------------------------------------------

    async def place_new(self, device: Device, node: Node) -> None:
        """Insert the device with the first free address on `node`, then add its peer; if the
        node fails, the row goes again, so row and peer never disagree."""
        async with self._node_locks.shared(node.id):
            try:
                await self._allocate(node, device)
            except NodeFull:
                if self.notifier is not None:
                    await self.notifier.to_admins("admin-node-full", node=node.name)
                raise
            device.node = node
            try:
                await self._wireguard.add_peer(target_of(node), self._configs.peer(device))
            except NodeError as error:
                log.warning("placing device %s on %s failed: %s", device.id, node.name, error)
                async with self._sessions.begin() as session:
                    await session.delete(await session.get_one(Device, device.id))
                raise NodeUnavailable(node=node.name) from error

    async def _allocate(self, node: Node, device: Device) -> None:
        """Insert `device` with the first free address on `node`. The unique (node, address)
        constraint settles a race with another process: the loser takes the next address."""
        for _ in range(ADDRESS_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    used = await self._lock_addresses(session, node)
                    device.node_id = node.id
                    device.address4 = next(free_addresses(node.server_address4, used), "")
                    if not device.address4:
                        raise NodeFull(node=node.name)
                    device.address6 = twin_address6(
                        node.server_address6, device.address4, node.server_address4
                    )
                    session.add(device)
            except IntegrityError:
                log.info("address race on %s, retrying", node.name)
                continue
            return
        raise NodeUnavailable(node=node.name)

    async def _lock_addresses(self, session: AsyncSession, node: Node) -> Collection[str]:
        """The addresses in use on `node`, read while holding the node's row (PostgreSQL:
        allocations on a node go one at a time; SQLite's BEGIN IMMEDIATE does that already)."""
        await session.execute(
            select(Node.id).where(Node.id == node.id).with_for_update(key_share=True)
        )
        used = await session.scalars(select(Device.address4).where(Device.node_id == node.id))
        return used.all()

    # --- moving devices -------------------------------------------------------------------------

    async def reassign(
        self,
        target: Node,
        *,
        user_id: int | None = None,
        node_id: int | None = None,
        notice: bool = False,
    ) -> list[Moved]:
        """Give every device of the user, or of the node, that is not on `target` an address
        there, in one transaction (NodeFull if they do not all fit, and then nothing changed).
        `notice` marks them for the "you were moved" message in the same transaction, so a
        crash cannot lose it."""
        query = select(Device).where(Device.node_id != target.id).order_by(Device.id)
        if user_id is not None:
            query = query.where(Device.user_id == user_id)
        if node_id is not None:
            query = query.where(Device.node_id == node_id)
        async with self._sessions.begin() as session:
            free: Iterator[str] = free_addresses(
                target.server_address4, await self._lock_addresses(session, target)
            )
            devices = (await session.scalars(query)).all()
            moved = []
            for device in devices:
                address4 = next(free, None)
                if address4 is None:
                    raise NodeFull(node=target.name)
                moved.append(
                    Moved(
                        device.id,
                        device.user_id,
                        device.node_id,
                        device.address4,
                        device.address6,
                        device.public_key,
                    )
                )
                device.node_id = target.id
                device.address4 = address4
                device.address6 = twin_address6(
                    target.server_address6, address4, target.server_address4
                )
                device.move_notice_due = notice
        return moved

    async def undo(self, moved: Sequence[Moved]) -> list[Moved]:
        """Put moved devices back where they were, each in its own transaction; returns those
        that stay moved because their old address was taken meanwhile (their new peer works)."""
        stayed = []
        for item in moved:
            try:
                async with self._sessions.begin() as session:
                    device = await session.get_one(Device, item.device_id)
                    device.node_id, device.address4, device.address6 = (
                        item.node_id,
                        item.address4,
                        item.address6,
                    )
                    device.move_notice_due = False
            except IntegrityError:
                log.warning("device %s stays moved: its old address is taken", item.device_id)
                stayed.append(item)
        if moved:
            log.warning("move of %d devices undone", len(moved) - len(stayed))
        return stayed

    async def move_user(self, user_id: int, target: Node) -> None:
        """Move one user's devices to `target` peer by peer: new addresses, the new peers
        added, then the old peers removed. If `target` refuses a peer, the devices go back
        where they were, so no working config dies unreplaced (NodeUnavailable then)."""
        async with self._node_locks.shared(target.id):
            moved = await self.reassign(target, user_id=user_id)
            old_nodes = await self._nodes({item.node_id for item in moved})
            added: set[str] = set()
            try:
                for device in await self._devices([item.device_id for item in moved]):
                    await self._wireguard.add_peer(target_of(target), self._configs.peer(device))
                    added.add(device.public_key)
            except NodeError as error:
                log.warning("moving devices to %s failed: %s", target.name, error)
                stayed = {item.device_id for item in await self.undo(moved)}
                for item in moved:
                    if item.device_id in stayed:  # it lives on target now: the old peer goes
                        await self.remove_peer(item.public_key, old_nodes[item.node_id])
                    elif item.public_key in added:
                        await self.remove_peer(item.public_key, target)
                raise NodeUnavailable(node=target.name) from error
        for item in moved:
            await self.remove_peer(item.public_key, old_nodes[item.node_id])

    async def _devices(self, device_ids: Sequence[int]) -> Sequence[Device]:
        async with self._sessions() as session:
            query = select(Device).where(Device.id.in_(device_ids)).order_by(Device.id)
            return (await session.scalars(query)).all()

    async def _nodes(self, node_ids: Collection[int]) -> dict[int, Node]:
        async with self._sessions() as session:
            nodes = await session.scalars(select(Node).where(Node.id.in_(node_ids)))
            return {node.id: node for node in nodes}

    async def remove_peer(self, public_key: str, node: Node) -> bool:
        """Take a peer off a node, best effort: a peer the node keeps is removed by the next
        reconcile of that node. True when the node confirmed it."""
        try:
            async with self._node_locks.shared(node.id):
                await self._wireguard.remove_peer(target_of(node), public_key)
        except NodeError as error:
            log.warning("peer left on %s until its reconcile: %s", node.name, error)
            return False
        return True
