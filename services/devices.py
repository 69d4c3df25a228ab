"""Devices: a user's WireGuard peers, up to the plan's limit; created, renamed, re-keyed, moved
and revoked with the node in step."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from db.cipher import SecretCipher
from db.models import AccessKind, Device, Node, NodeHealth, NodeStatus, Role, User
from nodes import NodeError, PeerSpec, PeerState, WireGuard
from nodes.amnezia import WIREGUARD
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from services.addresses import first_free_address, twin_address6
from services.clientconfig import ClientConfig, client_config, device_addresses
from services.clock import Clock, system_clock
from services.errors import (
    InvalidInput,
    NoAccess,
    NodeFull,
    NodeNotFound,
    NodeUnavailable,
    NoDevice,
    NoNodes,
    ServiceError,
)
from services.locks import NodeLocks
from services.nodes import target_of
from services.plans import Plan, find_plan
from services.routes import RoutePreset, client_allowed_ips

log = logging.getLogger(__name__)

ADDRESS_RETRIES = 5
PRIVATE_KEY = "device-private-key"
PRESHARED_KEY = "device-preshared-key"
NAME_MAX = 32
ADMIN_DEVICE_LIMIT = 20
DEFAULT_DEVICE_LIMIT = 2
# Invisible characters that belong in names: the joiner of emoji sequences.
NAME_FORMAT_ALLOWED = frozenset({"\u200d"})


class DeviceNotFound(ServiceError):
    """No such device among the caller's own: another user's id looks exactly like a missing one."""

    key = "error-device-not-found"


class DeviceLimitReached(ServiceError):
    """The user already has as many devices as their access allows."""

    key = "error-device-limit"


class InvalidDeviceName(InvalidInput):
    key = "error-device-name"


class UnknownRoutes(InvalidInput):
    key = "error-routes-unknown"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device with what its node says about it (None when the node did not answer)."""

    device: Device
    node: Node
    peer: PeerState | None
    node_reachable: bool


@dataclass(frozen=True, slots=True)
class DeviceList:
    """The user's devices with their live state, the limit they may have, and when it was read."""

    devices: tuple[DeviceStatus, ...]
    limit: int
    now: datetime

    def find(self, device_id: int) -> tuple[int, DeviceStatus]:
        """The device's place in the list (from 1) and its state; DeviceNotFound if not theirs."""
        for number, status in enumerate(self.devices, start=1):
            if status.device.id == device_id:
                return number, status
        raise DeviceNotFound()


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    device: Device
    config: ClientConfig


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
        *,
        plans: tuple[Plan, ...] = (),
        default_limit: int = DEFAULT_DEVICE_LIMIT,
        presets: Mapping[str, RoutePreset] | None = None,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._cipher = cipher
        self._node_locks = node_locks
        self._clock = clock
        self._plans = plans
        self._default_limit = default_limit
        self._presets = dict(presets or {})
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def device_limit(self, user: User) -> int:
        """How many devices the user may have: admins 20, paid access its plan's, else the
        default (DEVICE_LIMIT)."""
        if user.role is Role.ADMIN:
            return ADMIN_DEVICE_LIMIT
        if user.access_kind is AccessKind.PAID:
            plan = find_plan(self._plans, user.plan_code)
            if plan is not None:
                return plan.devices
        return self._default_limit

    async def devices_of(self, user_id: int) -> list[Device]:
        """The user's devices, oldest first, each with its node."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Device)
                .options(joinedload(Device.node))
                .where(Device.user_id == user_id)
                .order_by(Device.id)
            )
            return list(rows.all())

    async def numbered(self, user_id: int, device_id: int) -> tuple[int, Device]:
        """The user's device and its place in their list (from 1), from the database alone;
        DeviceNotFound when it is not theirs."""
        await self._user_with_access(user_id)
        for number, device in enumerate(await self.devices_of(user_id), start=1):
            if device.id == device_id:
                return number, device
        raise DeviceNotFound()

    async def overview(self, user_id: int) -> DeviceList:
        """The user's devices with what their nodes say now, and their limit."""
        user = await self._user_with_access(user_id)
        devices = await self.devices_of(user_id)
        live, failed = await self.live_peers(device.node for device in devices)
        statuses = tuple(
            DeviceStatus(
                device, device.node, live.get(device.public_key), device.node_id not in failed
            )
            for device in devices
        )
        return DeviceList(statuses, self.device_limit(user), self._clock())

    async def add(self, user_id: int, name: str = "") -> tuple[Device, ClientConfig]:
        """A new device next to the user's others; refused at the limit. An empty name is
        stored as "" and shown by position ("Device 2") in the user's language."""
        name = clean_name(name) if name else ""
        async with self._locks[user_id]:
            user = await self._user_with_access(user_id)
            devices = await self.devices_of(user_id)
            limit = self.device_limit(user)
            if len(devices) >= limit:
                raise DeviceLimitReached(limit=limit, count=len(devices))
            preferred = devices[0].node_id if devices else user.preferred_node_id
            node = await self._pick_node(preferred)
            device = await self._create(user_id, node, _Keys.fresh(), name)
            return device, self._config(device)

    async def rename(self, user_id: int, device_id: int, name: str) -> Device:
        """Give the device a name of 1-32 characters (trimmed, no control characters)."""
        name = clean_name(name)
        await self._user_with_access(user_id)
        async with self._sessions.begin() as session:
            device = await self._owned(session, user_id, device_id)
            device.name = name
        return device

    async def revoke(self, user_id: int, device_id: int) -> bool:
        """Remove the device: its peer leaves the node, then the row goes. True when the node
        confirmed the removal; False when it did not answer and the peer is left for reconcile."""
        async with self._locks[user_id]:
            await self._user_with_access(user_id)
            device = await self._owned_device(user_id, device_id)
            removed = True
            async with self._node_locks.shared(device.node_id):
                try:
                    await self._wireguard.remove_peer(target_of(device.node), device.public_key)
                except NodeError as error:
                    # The row goes anyway: reconcile removes every peer the database does not
                    # know, and it runs when the node reconnects and every RECONCILE_INTERVAL.
                    log.warning(
                        "revoke of device %s left its peer to reconcile: %s", device.id, error
                    )
                    removed = False
                async with self._sessions.begin() as session:
                    stored = await session.get(Device, device.id)
                    if stored is not None:
                        await session.delete(stored)
            return removed

    def route_presets(self) -> list[RoutePreset]:
        """The split-tunnelling presets a device may choose, in the operator's order."""
        return list(self._presets.values())

    async def set_routes(self, user_id: int, device_id: int, preset_key: str) -> ClientConfig:
        """Send only a preset's networks through the tunnel ("": everything); the node's peer
        is unchanged (it limits what the client may send from, not to), only the config is."""
        if preset_key and preset_key not in self._presets:
            raise UnknownRoutes()
        await self._user_with_access(user_id)
        async with self._sessions.begin() as session:
            device = await self._owned(session, user_id, device_id)
            device.route_preset = preset_key
        return self._config(device)

    async def device_config(self, user_id: int, device_id: int) -> ClientConfig:
        """The config of one of the user's devices (another user's id is not found)."""
        await self._user_with_access(user_id)
        return self._config(await self._owned_device(user_id, device_id))

    async def config_for(self, user_id: int) -> ClientConfig:
        """The user's config, creating their device on their chosen node when they have none."""
        async with self._locks[user_id]:
            user = await self._user_with_access(user_id)
            device = await self._device_of(user_id)
            if device is None:
                node = await self._pick_node(user.preferred_node_id)
                device = await self._create(user_id, node, _Keys.fresh())
            return self._config(device)

    async def regenerate(self, user_id: int, device_id: int | None = None) -> ClientConfig:
        """New key pair and preshared key for the device (None: the user's first one); the old
        peer leaves the node before this returns."""
        async with self._locks[user_id]:
            await self._user_with_access(user_id)
            if device_id is not None:
                device = await self._owned_device(user_id, device_id)
            elif (first := await self._device_of(user_id)) is not None:
                device = first
            else:
                raise NoDevice()
            keys = _Keys.fresh()
            target = target_of(device.node)
            async with self._node_locks.shared(device.node_id):
                try:
                    await self._wireguard.remove_peer(target, device.public_key)
                    await self._wireguard.add_peer(
                        target, PeerSpec(keys.public, keys.preshared, device_addresses(device))
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

    async def move(self, user_id: int, node_id: int) -> list[DeviceConfig]:
        """Put all the user's devices on another node (a first device is created there when
        they have none): new peers there, then the old ones removed. Returns every device's
        new config, oldest device first."""
        async with self._locks[user_id]:
            await self._user_with_access(user_id)
            node = await self._enabled_node(node_id)
            devices = await self.devices_of(user_id)
            if devices:
                await self._move_all(devices, node)
            else:
                devices = [await self._create(user_id, node, _Keys.fresh())]
            async with self._sessions.begin() as session:
                user = await session.get_one(User, user_id)
                user.preferred_node_id = node.id
            return [DeviceConfig(device, self._config(device)) for device in devices]

    async def _move_all(self, devices: list[Device], node: Node) -> None:
        """Place every device on `node`, then take the old peers off. If the node refuses one,
        the devices already placed go back where they were, so no config dies unreplaced."""
        placed: list[_Placement] = []
        for device in devices:
            if device.node_id == node.id:
                continue
            before = _Placement(device, device.node, device.address4, device.address6)
            try:
                await self._place(device, node, before.undo)
            except ServiceError:
                await self._put_back(placed, node)
                raise
            placed.append(before)
        for before in placed:
            await self._remove_old_peer(before.device.public_key, before.node)

    async def _put_back(self, placed: list[_Placement], node: Node) -> None:
        """Undo moves to `node` after a later device failed there; a device whose old address
        was taken meanwhile stays moved (its new peer works) and loses its old peer instead."""
        for before in placed:
            try:
                async with self._sessions.begin() as session:
                    await before.undo(session)
            except IntegrityError:
                log.warning(
                    "device %s stays on %s: its old address is taken", before.device.id, node.name
                )
                await self._remove_old_peer(before.device.public_key, before.node)
                continue
            await self._remove_old_peer(before.device.public_key, node)

    async def _remove_old_peer(self, public_key: str, node: Node) -> None:
        """Best effort: a peer the node keeps is removed by the next reconcile of that node."""
        try:
            async with self._node_locks.shared(node.id):
                await self._wireguard.remove_peer(target_of(node), public_key)
        except NodeError as error:
            log.warning("a moved peer stays on %s until reconcile: %s", node.name, error)

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

    async def _owned_device(self, user_id: int, device_id: int) -> Device:
        async with self._sessions() as session:
            return await self._owned(session, user_id, device_id)

    @staticmethod
    async def _owned(session: AsyncSession, user_id: int, device_id: int) -> Device:
        """The device with its node if `user_id` owns it; DeviceNotFound otherwise."""
        if not 0 < device_id < 2**31:  # a forged id too big for the column is simply not found
            raise DeviceNotFound()
        device = await session.scalar(
            select(Device)
            .options(joinedload(Device.node))
            .where(Device.id == device_id, Device.user_id == user_id)
        )
        if device is None:
            raise DeviceNotFound()
        return device

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
                # plain WireGuard first: AmneziaWG needs its own app, so it is chosen on purpose
                .order_by(Node.protocol != WIREGUARD, func.count(Device.id), Node.name)
            )
            candidates = (await session.scalars(query)).all()
        in_region = [node for node in candidates if node.region == preferred_region]
        if not candidates:
            raise NoNodes()
        return (in_region or list(candidates))[0]

    async def _create(self, user_id: int, node: Node, keys: _Keys, name: str = "") -> Device:
        """Reserve an address in the database, then add the peer; undo the row if the node fails."""
        device = Device(user_id=user_id, name=name, created_at=self._clock())
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
                    # PostgreSQL: allocations on a node go one at a time (SQLite: BEGIN IMMEDIATE)
                    await session.execute(
                        select(Node.id).where(Node.id == node.id).with_for_update(key_share=True)
                    )
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
        return PeerSpec(device.public_key, preshared, device_addresses(device))

    def _config(self, device: Device) -> ClientConfig:
        """The device's config; a preset the operator has since removed means the full tunnel."""
        preset = self._presets.get(device.route_preset) if device.route_preset else None
        return client_config(
            device.node,
            device,
            self._cipher.decrypt(device.private_key_enc, PRIVATE_KEY),
            self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY),
            allowed_ips=client_allowed_ips(preset, device.node.dns),
        )


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a device was before a move, to put it back."""

    device: Device
    node: Node
    address4: str
    address6: str | None

    async def undo(self, session: AsyncSession) -> None:
        stored = await session.get_one(Device, self.device.id)
        stored.node_id, stored.address4, stored.address6 = (
            self.node.id,
            self.address4,
            self.address6,
        )


def clean_name(text: str) -> str:
    """A device name: trimmed, 1-32 characters, no control or other invisible characters."""
    name = text.strip()
    if not 0 < len(name) <= NAME_MAX or any(_hidden(char) for char in name):
        raise InvalidDeviceName(most=NAME_MAX)
    return name


def _hidden(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in NAME_FORMAT_ALLOWED
    return category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp")


def handshake_age(peer: PeerState | None, now: datetime) -> float | None:
    """Seconds since the last handshake, or None if there was none."""
    if peer is None or peer.latest_handshake is None:
        return None
    return max((now - peer.latest_handshake).total_seconds(), 0.0)
