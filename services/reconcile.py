"""Keeping every node's peers equal to the database: the desired state, applied without restarts."""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass

from nodes.reconcile import ReconcilePlan
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.cipher import SecretCipher
from bot.db.models import Device, Node, NodeHealth
from nodes import NodeError, NodeTarget, PeerSpec, WireGuard
from services.devices import PRESHARED_KEY, allowed_ips
from services.errors import NodeNotFound
from services.locks import NodeLocks
from services.nodes import target_of
from services.notify import Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    node: str
    plan: ReconcilePlan | None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.plan is not None and self.plan.changed


class ReconcileService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        cipher: SecretCipher,
        node_locks: NodeLocks,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._cipher = cipher
        self._node_locks = node_locks
        self.notifier = notifier

    async def desired_peers(self, node_id: int) -> list[PeerSpec]:
        """Every device the database puts on the node."""
        async with self._sessions() as session:
            devices = await session.scalars(select(Device).where(Device.node_id == node_id))
            return [
                PeerSpec(
                    device.public_key,
                    self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY),
                    allowed_ips(device),
                )
                for device in devices
            ]

    async def reconcile(self, node: Node, *, report: bool = True) -> ReconcileResult:
        """Make the node's peers equal the database; tell the admins when anything changed."""
        try:
            async with self._node_locks(node.id):
                desired = await self.desired_peers(node.id)
                plan = await self._wireguard.reconcile(target_of(node), desired)
        except NodeError as error:
            log.warning("reconcile %s failed: %s", node.name, error.reason)
            return ReconcileResult(node.name, None, error.reason)
        if plan.changed:
            log.info("reconcile %s: %s", node.name, plan.summary())
            async with self._sessions.begin() as session:
                health = await session.get(NodeHealth, node.id)
                if health is None:
                    health = NodeHealth(node_id=node.id, reconcile_changes=0)
                    session.add(health)
                health.reconcile_changes += len(plan.add) + len(plan.remove) + len(plan.update)
            if report and self.notifier is not None:
                await self.notifier.to_admins(
                    "admin-reconcile-changed",
                    node=node.name,
                    added=str(len(plan.add)),
                    removed=str(len(plan.remove)),
                    fixed=str(len(plan.update)),
                )
        return ReconcileResult(node.name, plan)

    async def reconcile_named(self, name: str, *, report: bool = True) -> ReconcileResult:
        async with self._sessions() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
        if node is None:
            raise NodeNotFound()
        return await self.reconcile(node, report=report)

    async def reconcile_all(self) -> list[ReconcileResult]:
        async with self._sessions() as session:
            nodes = (await session.scalars(select(Node).order_by(Node.name))).all()
        return [await self.reconcile(node) for node in nodes]

    async def on_connect(self, target: NodeTarget) -> None:
        """Hooked to the SSH pool: a node that was away is brought back in line at once."""
        with suppress(NodeNotFound):
            await self.reconcile_named(target.name)
