"""A node's address for clients: when users' networks block it and the operator gives the node
a new one, every user on the node gets their config with the new Endpoint in the chat."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Device, Node, User
from services.clock import Clock, system_clock
from services.devices import DeviceService
from services.errors import InvalidInput, NodeNotFound
from services.nodes import HOST
from services.notify import Notifier


@dataclass(frozen=True, slots=True)
class EndpointReport:
    node: str
    old: str
    new: str
    devices: int  # devices whose owner has access now, each sent its new config
    delivered: int
    undelivered: int


def valid_endpoint(endpoint: str) -> bool:
    """HOST:PORT, with an IPv6 host in brackets."""
    host, sep, port = endpoint.rpartition(":")
    return bool(sep and HOST.match(host) and port.isdigit() and 0 < int(port) < 65536)


class EndpointService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        devices: DeviceService,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._devices = devices
        self._clock = clock
        self.notifier = notifier

    async def change(self, name: str, endpoint: str) -> EndpointReport:
        """Store the node's new client address and send each user with access a config that
        uses it. Nothing changes on the node: WireGuard answers on every address it has."""
        if not valid_endpoint(endpoint):
            raise InvalidInput(field="endpoint")
        now = self._clock()
        async with self._sessions.begin() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
            if node is None:
                raise NodeNotFound(node=name)
            old, node.endpoint = node.endpoint, endpoint
            rows = await session.execute(
                select(Device.id, User)
                .join(User, User.id == Device.user_id)
                .where(Device.node_id == node.id)
                .order_by(Device.id)
            )
            recipients = [(device_id, user.id) for device_id, user in rows if user.has_access(now)]
        if old == endpoint:
            return EndpointReport(name, old, endpoint, 0, 0, 0)
        delivered = 0
        for device_id, user_id in recipients:
            config = await self._devices.config_of_device(device_id)
            if self.notifier and await self.notifier.send_config(
                user_id, "endpoint-changed-notice", config, node=name
            ):
                delivered += 1
        return EndpointReport(
            name, old, endpoint, len(recipients), delivered, len(recipients) - delivered
        )
