"""Devices: a user's WireGuard peer on a node; created, re-keyed and moved with the node in step."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from bot.db.cipher import SecretCipher
from bot.db.models import Device, Node, NodeHealth, NodeStatus, User
from nodes import NodeError, PeerSpec, PeerState, WireGuard
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from services.addresses import first_free_address, twin_address6
from services.clientconfig import ClientConfig
from services.clock import Clock, system_clock
from services.errors import NoAccess, NodeFull, NodeNotFound, NodeUnavailable, NoDevice, NoNodes
from services.locks import NodeLocks
from services.nodes import target_of

log = logging.getLogger(__name__)

ADDRESS_RETRIES = 5
PRIVATE_KEY = "device-private-key"
PRESHARED_KEY = "device-preshared-key"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device with what its node says about it (None when the node did not answer)."""

    device: Device
    node: Node
    peer: PeerState | None
    node_reachable: bool


@dataclass(frozen=True, slots=True)
class _Keys:
    private: str
    public: str
    preshared: str

    @classmethod
    def fresh(cls) -> _Keys:
        private = generate_private_key()
        return cls(private, public_key(private), generate_preshared_key())


class DeviceService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        cipher: SecretCipher,
        node_locks: NodeLocks,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._cipher = cipher
        self._node_locks = node_locks
        self._clock = clock
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def config_for(self, user_id: int) -> ClientConfig:
        """The user's config, creating their device on their chosen node when they have none."""
        async with self._locks[user_id]:
            user = await self._user_with_access(user_id)
            device = await self._device_of(user_id)
            if device is None:
                node = await self._pick_node(user.preferred_node_id)
                device = await self._create(user_id, node, _Keys.fresh())
            return self._config(device)

    async def regenerate(self, user_id: int) -> ClientConfig:
        """New key pair and preshared key; the old peer leaves the node before this returns."""
        async with self._locks[user_id]:
            await self._user_with_access(user_id)
            device = await self._device_of(user_id)
            if device is None:
                raise NoDevice()
            keys = _Keys.fresh()
            target = target_of(device.node)
            async with self._node_locks.shared(device.node_id):
                try:
                    await self._wireguard.remove_peer(target, device.public_key)
                    await self._wireguard.add_peer(
                        target, PeerSpec(keys.public, keys.preshared, allowed_ips(device))
                    )
                except NodeError as error:
                    log.warning("regenerate for device %s failed: %s", device.id, error)
                    await self._restore_peer(device)
                    raise NodeUnavailable(node=device.node.name) from error
                async with self._sessions.begin() as session:
                    stored = await session.get_one(Device, device.id)
                    self._store_keys(stored, keys)
            self._store_keys(device, keys)
            return self._config(device)

    async def move(self, user_id: int, node_id: int) -> ClientConfig:
        """Put the user's device on another node: new peer there, old peer removed."""
        async with self._locks[user_id]:
            await self._user_with_access(user_id)
            node = await self._enabled_node(node_id)
            device = await self._device_of(user_id)
            if device is None:
                device = await self._create(user_id, node, _Keys.fresh())
            elif device.node_id != node.id:
                await self._move(device, node)
            async with self._sessions.begin() as session:
                user = await session.get_one(User, user_id)
                user.preferred_node_id = node.id
            return self._config(device)

    async def _move(self, device: Device, node: Node) -> None:
        old_node, old_address4, old_address6 = device.node, device.address4, device.address6

        async def undo(session: AsyncSession) -> None:
            stored = await session.get_one(Device, device.id)
            stored.node_id, stored.address4 = old_node.id, old_address4
            stored.address6 = old_address6

        await self._place(device, node, undo)
        try:
            async with self._node_locks.shared(old_node.id):
                await self._wireguard.remove_peer(target_of(old_node), device.public_key)
        except NodeError as error:
            log.warning("old peer of device %s stays on %s: %s", device.id, old_node.name, error)

    async def status(self, user_id: int) -> DeviceStatus | None:
        """The user's device and its live handshake and traffic, or None without a device."""
        device = await self._device_of(user_id)
        if device is None:
            return None
        try:
            peers = await self._wireguard.peers(target_of(device.node))
        except NodeError as error:
            log.info("status of device %s: %s", device.id, error)
            return DeviceStatus(device, device.node, None, False)
        peer = next((p for p in peers if p.public_key == device.public_key), None)
        return DeviceStatus(device, device.node, peer, True)

    async def live_peers(self, nodes: Iterable[Node]) -> tuple[dict[str, PeerState], set[int]]:
        """Peers of these nodes read at once, by public key, and the ids of nodes that failed."""
        unique = {node.id: node for node in nodes}
        results = await asyncio.gather(
            *(self._wireguard.peers(target_of(node)) for node in unique.values()),
            return_exceptions=True,
        )
        live: dict[str, PeerState] = {}
        failed: set[int] = set()
        for node_id, result in zip(unique, results, strict=True):
            if isinstance(result, NodeError):
                failed.add(node_id)
            elif isinstance(result, BaseException):
                raise result
            else:
                live.update((peer.public_key, peer) for peer in result)
        return live, failed

    async def config_of_device(self, device_id: int) -> ClientConfig:
        async with self._sessions() as session:
            device = await session.get_one(Device, device_id, options=[joinedload(Device.node)])
        return self._config(device)

    async def require_access(self, user_id: int) -> None:
        """Raise NoAccess unless the user may connect now."""
        await self._user_with_access(user_id)

    async def current_node(self, user_id: int) -> Node | None:
        device = await self._device_of(user_id)
        return device.node if device else None

    async def _user_with_access(self, user_id: int) -> User:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None or not user.has_access(self._clock()):
            raise NoAccess()
        return user

    async def _device_of(self, user_id: int) -> Device | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Device)
                .options(joinedload(Device.node))
                .where(Device.user_id == user_id)
                .order_by(Device.id)
                .limit(1)
            )

    async def _enabled_node(self, node_id: int) -> Node:
        """A node that takes users: enabled, and not down by the last probes."""
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

    async def _pick_node(self, preferred_node_id: int | None) -> Node:
        """The user's chosen node if it takes users, else the least loaded node that does,
        in the chosen node's region when there is one there."""
        preferred_region = None
        if preferred_node_id is not None:
            try:
                return await self._enabled_node(preferred_node_id)
            except NodeNotFound:
                async with self._sessions() as session:
                    chosen = await session.get(Node, preferred_node_id)
                preferred_region = chosen.region if chosen else None
        async with self._sessions() as session:
            query = (
                select(Node)
                .outerjoin(Device, Device.node_id == Node.id)
                .outerjoin(NodeHealth, NodeHealth.node_id == Node.id)
                .where(Node.status == NodeStatus.ENABLED)
                .where(NodeHealth.up.is_(None) | NodeHealth.up)
                .group_by(Node.id)
                .order_by(func.count(Device.id), Node.name)
            )
            candidates = (await session.scalars(query)).all()
        in_region = [node for node in candidates if node.region == preferred_region]
        if not candidates:
            raise NoNodes()
        return (in_region or list(candidates))[0]

    async def _create(self, user_id: int, node: Node, keys: _Keys) -> Device:
        """Reserve an address in the database, then add the peer; undo the row if the node fails."""
        device = Device(user_id=user_id, created_at=self._clock())
        self._store_keys(device, keys)

        async def undo(session: AsyncSession) -> None:
            await session.delete(await session.get_one(Device, device.id))

        await self._place(device, node, undo)
        return device

    async def _place(
        self, device: Device, node: Node, undo: Callable[[AsyncSession], Awaitable[None]]
    ) -> None:
        """Save the device with a free address on `node`, then put its peer there; if the node
        fails, `undo` puts the row back as it was, so row and peer never disagree."""
        async with self._node_locks.shared(node.id):
            await self._allocate(node, device)
            device.node = node
            try:
                await self._wireguard.add_peer(target_of(node), self._peer_spec(device))
            except NodeError as error:
                log.warning("placing device %s on %s failed: %s", device.id, node.name, error)
                async with self._sessions.begin() as session:
                    await undo(session)
                raise NodeUnavailable(node=node.name) from error

    async def _allocate(self, node: Node, device: Device) -> None:
        """Give `device` the first free address on `node` and save it (inserted if new).

        The unique (node, address) constraint settles a race: the loser takes the next address."""
        for _ in range(ADDRESS_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    used = await session.scalars(
                        select(Device.address4).where(Device.node_id == node.id)
                    )
                    try:
                        address4 = first_free_address(node.server_address4, used.all())
                    except NodeFull:
                        raise NodeFull(node=node.name) from None
                    stored = (
                        device if device.id is None else await session.get_one(Device, device.id)
                    )
                    stored.node_id = node.id
                    stored.address4 = address4
                    stored.address6 = twin_address6(
                        node.server_address6, address4, node.server_address4
                    )
                    session.add(stored)
            except IntegrityError:
                log.info("address race on %s, retrying", node.name)
                continue
            device.node_id, device.address4, device.address6 = (
                stored.node_id,
                stored.address4,
                stored.address6,
            )
            return
        raise NodeUnavailable(node=node.name)

    async def _restore_peer(self, device: Device) -> None:
        """Best effort: put the stored peer back after a failed change."""
        try:
            await self._wireguard.add_peer(target_of(device.node), self._peer_spec(device))
        except NodeError:
            log.warning("device %s left for reconcile on %s", device.id, device.node.name)

    def _store_keys(self, device: Device, keys: _Keys) -> None:
        device.public_key = keys.public
        device.private_key_enc = self._cipher.encrypt(keys.private, PRIVATE_KEY)
        device.preshared_key_enc = self._cipher.encrypt(keys.preshared, PRESHARED_KEY)

    def _peer_spec(self, device: Device) -> PeerSpec:
        preshared = self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY)
        return PeerSpec(device.public_key, preshared, allowed_ips(device))

    def _config(self, device: Device) -> ClientConfig:
        node = device.node
        return ClientConfig(
            node_name=node.name,
            private_key=self._cipher.decrypt(device.private_key_enc, PRIVATE_KEY),
            addresses=allowed_ips(device),
            dns=node.dns,
            mtu=node.mtu,
            server_public_key=node.public_key,
            preshared_key=self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY),
            endpoint=node.endpoint,
        )


def allowed_ips(device: Device) -> tuple[str, ...]:
    """The device's tunnel addresses: a /32 and, on a dual-stack node, a /128."""
    if device.address6:
        return (f"{device.address4}/32", f"{device.address6}/128")
    return (f"{device.address4}/32",)


def handshake_age(peer: PeerState | None, now: datetime) -> float | None:
    """Seconds since the last handshake, or None if there was none."""
    if peer is None or peer.latest_handshake is None:
        return None
    return max((now - peer.latest_handshake).total_seconds(), 0.0)
