"""Moving users between nodes: /migrate and /drain; each moved user gets the new config."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Device, Node, NodeHealth, NodeStatus
from services.addresses import free_addresses, twin_address6
from services.devices import DeviceService
from services.errors import InvalidInput, NodeFull, NodeNotFound, NodeUnavailable
from services.locks import NodeLocks
from services.nodes import NodeService
from services.notify import Notifier
from services.reconcile import ReconcileService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Moved:
    device_id: int
    user_id: int
    node_id: int
    address4: str
    address6: str | None


@dataclass(frozen=True, slots=True)
class MoveReport:
    source: str
    target: str
    moved: int
    delivered: int
    undelivered: int
    old_peers_removed: bool


class MoveService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        devices: DeviceService,
        nodes: NodeService,
        reconcile: ReconcileService,
        locks: NodeLocks,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._devices = devices
        self._nodes = nodes
        self._reconcile = reconcile
        self._locks = locks
        self.notifier = notifier

    async def migrate(self, source_name: str, target_name: str) -> MoveReport:
        """Move every device from one node to another."""
        source, target = await self._node(source_name), await self._node(target_name)
        if source.id == target.id or target.status is not NodeStatus.ENABLED:
            raise InvalidInput(field="target")
        return await self._move_all(source, target)

    async def drain(self, name: str) -> MoveReport:
        """Stop giving the node to new users and move its users to the least loaded healthy node,
        in the same region when there is one."""
        source = await self._node(name)
        async with self._sessions.begin() as session:
            stored = await session.get_one(Node, source.id)
            stored.status = NodeStatus.DRAINING
        target = await self._drain_target(source)
        return await self._move_all(source, target)

    async def _node(self, name: str) -> Node:
        node = await self._nodes.named(name)
        if node is None:
            raise NodeNotFound(node=name)
        return node

    async def _drain_target(self, source: Node) -> Node:
        async with self._sessions() as session:
            candidates = (
                await session.scalars(
                    select(Node)
                    .outerjoin(NodeHealth, NodeHealth.node_id == Node.id)
                    .where(Node.status == NodeStatus.ENABLED, Node.id != source.id)
                    .where((NodeHealth.up.is_(None)) | NodeHealth.up)
                )
            ).all()
        if not candidates:
            raise NodeNotFound(node=source.name)
        counts = await self._nodes.device_counts()
        same_region = [node for node in candidates if node.region == source.region]
        pool = same_region or list(candidates)
        return min(pool, key=lambda node: (counts.get(node.id, 0), node.name))

    async def _move_all(self, source: Node, target: Node) -> MoveReport:
        first, second = sorted((source.id, target.id))
        async with self._locks.exclusive(first), self._locks.exclusive(second):
            moved = await self._reassign(source, target)
        if not moved:
            return MoveReport(source.name, target.name, 0, 0, 0, True)
        added = await self._reconcile.reconcile(target, report=False)
        if added.error is not None:
            await self._restore(moved)
            raise NodeUnavailable(node=target.name)
        removed = await self._reconcile.reconcile(source, report=False)
        delivered = 0
        for item in moved:
            delivered += await self._tell_moved(item.device_id, item.user_id, target.name)
        return MoveReport(
            source.name,
            target.name,
            len(moved),
            delivered,
            len(moved) - delivered,
            removed.error is None,
        )

    async def _tell_moved(self, device_id: int, user_id: int, node_name: str) -> bool:
        """Send the owner the new config once, then clear the device's notice (a user who blocked
        the bot is not tried again; /get_config gives them the same config)."""
        config = await self._devices.config_of_device(device_id)
        sent = self.notifier is not None and await self.notifier.send_config(
            user_id, "moved-notice", config, node=node_name
        )
        async with self._sessions.begin() as session:
            await session.execute(
                update(Device).where(Device.id == device_id).values(move_notice_due=False)
            )
        return sent

    async def send_due_notices(self) -> int:
        """At start-up: tell the users moved by a /migrate or /drain that the process did not
        live to finish (their devices are on the new node already); how many were told."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Device.id, Device.user_id, Node.name)
                    .join(Node, Node.id == Device.node_id)
                    .where(Device.move_notice_due.is_(True))
                    .order_by(Device.id)
                )
            ).all()
        told = 0
        for device_id, user_id, node_name in rows:
            told += await self._tell_moved(device_id, user_id, node_name)
        return told

    async def _reassign(self, source: Node, target: Node) -> list[_Moved]:
        """Give every device of `source` an address on `target`; remember where each was."""
        async with self._sessions.begin() as session:
            devices = (
                await session.scalars(
                    select(Device).where(Device.node_id == source.id).order_by(Device.id)
                )
            ).all()
            used = (
                await session.scalars(select(Device.address4).where(Device.node_id == target.id))
            ).all()
            free = free_addresses(target.server_address4, used)
            moved = []
            for device in devices:
                address4 = next(free, None)
                if address4 is None:
                    raise NodeFull(node=target.name)
                moved.append(
                    _Moved(
                        device.id, device.user_id, device.node_id, device.address4, device.address6
                    )
                )
                device.node_id = target.id
                device.move_notice_due = True  # with the move: a crash cannot lose the notice
                device.address4 = address4
                device.address6 = twin_address6(
                    target.server_address6, address4, target.server_address4
                )
            return moved

    async def _restore(self, moved: list[_Moved]) -> None:
        """Undo a reassignment whose new node refused the peers."""
        async with self._sessions.begin() as session:
            for item in moved:
                device = await session.get_one(Device, item.device_id)
                device.node_id, device.address4, device.address6 = (
                    item.node_id,
                    item.address4,
                    item.address6,
                )
                device.move_notice_due = False
        log.warning("move of %d devices undone", len(moved))
