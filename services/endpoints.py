"""A node's address for clients: when users' networks block it and the operator gives the node
a new one, every user on the node gets their config with the new Endpoint in the chat."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from db.models import Device, Node, User
from services.audit import AuditAction, record
from services.clientconfig import DeviceConfigs
from services.clock import Clock, system_clock
from services.errors import InvalidInput, NodeNotFound
from services.fleet import valid_endpoint
from services.notifier import Notifier


@dataclass(frozen=True, slots=True)
class EndpointReport:
    node: str
    old: str
    new: str
    devices: int  # devices whose owner has access now, each sent its new config
    delivered: int
    undelivered: int


class EndpointService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        configs: DeviceConfigs,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._configs = configs
        self._clock = clock
        self.notifier = notifier

    async def change(self, actor_id: int, name: str, endpoint: str) -> EndpointReport:
        """Store the node's new client address and send each user with access a config that
        uses it (audited as the actor's). Nothing changes on the node: WireGuard answers on
        every address it has."""
        if not valid_endpoint(endpoint):
            raise InvalidInput(field="endpoint")
        now = self._clock()
        async with self._sessions.begin() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
            if node is None:
                raise NodeNotFound(node=name)
            old, node.endpoint = node.endpoint, endpoint
            rows = await session.execute(
                select(Device, User)
                .options(joinedload(Device.node))
                .join(User, User.id == Device.user_id)
                .where(Device.node_id == node.id)
                .order_by(Device.id)
            )
            recipients = [
                device for device, user in rows if user.has_access(now) and device.address4
            ]
            change = f"{old} -> {endpoint}"
            record(session, self._clock, actor_id, AuditAction.SET_ENDPOINT, name, change)
        if old == endpoint:
            return EndpointReport(name, old, endpoint, 0, 0, 0)
        delivered = 0
        for device in recipients:
            config = self._configs.config(device)
            if self.notifier and await self.notifier.send_config(
                device.user_id, config, "endpoint-changed-notice", node=name
            ):
                delivered += 1
        return EndpointReport(
            name, old, endpoint, len(recipients), delivered, len(recipients) - delivered
        )
