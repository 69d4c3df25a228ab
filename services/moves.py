"""Moving every device of a node: /migrate and /drain; each moved user gets the new config (a
VLESS device its new link)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from db.models import Device, Node, NodeStatus, VlessDevice
from services.audit import AuditAction, record
from services.clientconfig import DeviceConfigs
from services.clock import Clock, system_clock
from services.errors import InvalidInput, NodeNotFound, NodeUnavailable
from services.locks import NodeLocks
from services.notifier import Notifier
from services.placement import Placement
from services.reconcile import ReconcileService
from services.vless import NOTHING_MOVED, VlessMove, VlessService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MoveReport:
    source: str
    target: str
    moved: int
    delivered: int
    undelivered: int
    old_peers_removed: bool
    vless: VlessMove

    @property
    def details(self) -> str:
        """What the audit entry says."""
        text = f"to={self.target} moved={self.moved} delivered={self.delivered}"
        if self.vless.moved or self.vless.stayed:
            text += f" vless_to={self.vless.target or '-'} vless_moved={self.vless.moved}"
            text += f" vless_stayed={self.vless.stayed}"
        return text


class MoveService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        placement: Placement,
        configs: DeviceConfigs,
        reconcile: ReconcileService,
        locks: NodeLocks,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
        vless: VlessService | None = None,
    ) -> None:
        self._sessions = sessions
        self._vless = vless
        self._placement = placement
        self._configs = configs
        self._reconcile = reconcile
        self._locks = locks
        self._clock = clock
        self.notifier = notifier

    async def migrate(self, actor_id: int, source_name: str, target_name: str) -> MoveReport:
        """Move every device from one node to another (audited as the actor's)."""
        source, target = await self._named(source_name), await self._named(target_name)
        if source.id == target.id or target.status is not NodeStatus.ENABLED:
            raise InvalidInput(field="target")
        report = await self._move_all(source, target)
        await self._audit(actor_id, AuditAction.MIGRATE, source.name, report.details)
        return report

    async def drain(self, actor_id: int, name: str) -> MoveReport:
        """Stop giving the node to new devices and move its devices to the node that would take
        them (its region and protocol first, then the least loaded)."""
        source = await self._named(name)
        async with self._sessions.begin() as session:
            stored = await session.get_one(Node, source.id)
            stored.status = NodeStatus.DRAINING
        target = await self._placement.drain_target(source)
        report = await self._move_all(source, target)
        await self._audit(actor_id, AuditAction.DRAIN, source.name, report.details)
        return report

    async def _named(self, name: str) -> Node:
        async with self._sessions() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
        if node is None:
            raise NodeNotFound(node=name)
        return node

    async def _audit(self, actor_id: int, action: AuditAction, node: str, details: str) -> None:
        async with self._sessions.begin() as session:
            record(session, self._clock, actor_id, action, node, details)

    async def _move_all(self, source: Node, target: Node) -> MoveReport:
        first, second = sorted((source.id, target.id))
        async with self._locks.exclusive(first), self._locks.exclusive(second):
            moved = await self._placement.reassign(target, node_id=source.id, notice=True)
        delivered, old_peers_removed = 0, True
        if moved:
            added = await self._reconcile.reconcile(target, report=False)
            if added.error is not None:
                await self._placement.undo(moved)
                raise NodeUnavailable(node=target.name)
            removed = await self._reconcile.reconcile(source, report=False)
            old_peers_removed = removed.error is None
            for item in moved:
                delivered += await self._tell_moved(item.device_id)
        vless = NOTHING_MOVED
        if self._vless is not None:
            vless = await self._vless.move_all(source, target)
        return MoveReport(
            source.name,
            target.name,
            len(moved),
            delivered,
            len(moved) - delivered,
            old_peers_removed,
            vless,
        )

    async def _tell_moved(self, device_id: int) -> bool:
        """Send the owner the new config once, then clear the device's notice (a user who blocked
        the bot is not tried again; /get_config gives them the same config)."""
        async with self._sessions() as session:
            device = await session.get_one(Device, device_id, options=[joinedload(Device.node)])
        sent = self.notifier is not None and await self.notifier.send_config(
            device.user_id, self._configs.config(device), "moved-notice", node=device.node.name
        )
        async with self._sessions.begin() as session:
            await session.execute(
                update(Device).where(Device.id == device_id).values(move_notice_due=False)
            )
        return sent

    async def send_due_notices(self) -> int:
        """At start-up: tell the users moved by a /migrate or /drain that the process did not
        live to finish (their devices are on the new node already): the new config of a
        WireGuard device, the new link of a VLESS device; how many were told."""
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(Device.id).where(Device.move_notice_due.is_(True)).order_by(Device.id)
                )
            ).all()
            vless_due = (
                await session.scalars(
                    select(VlessDevice.id)
                    .where(VlessDevice.move_notice_due.is_(True))
                    .order_by(VlessDevice.id)
                )
            ).all()
        told = 0
        for device_id in due:
            told += await self._tell_moved(device_id)
        if self._vless is not None:
            for device_id in vless_due:
                told += await self._vless.tell_moved(device_id)
        return told
