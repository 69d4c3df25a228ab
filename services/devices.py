"""Devices: what a user does with their WireGuard peers, up to their limit: add, rename, route,
get the config, new keys, move, remove. Every verb checks access and ownership."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from db.models import AccessKind, Device, Node, Role, User, VlessDevice
from nodes import NodeError, NodeTarget, PeerSpec, WireGuard
from services.addons import extra_devices
from services.clientconfig import ClientConfig, DeviceConfigs, DeviceKeys
from services.clock import Clock, system_clock
from services.errors import InvalidInput, NoAccess, NodesFull, NodeUnavailable, ServiceError
from services.health import LastProbe, last_probes
from services.locks import NodeLocks
from services.placement import Placement
from services.plans import Plan, find_plan
from services.routes import RoutePreset
from services.targets import target_of
from services.traffic import count_removed

log = logging.getLogger(__name__)

NAME_MAX = 32
ADMIN_DEVICE_LIMIT = 20
DEFAULT_DEVICE_LIMIT = 2
TRIAL_DEVICE_LIMIT = 1
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
    """A device with its handshake and traffic as the node's latest probe stored them: no
    tap reads a node, so a tap costs the same on a node of 10 peers or of 10,000."""

    device: Device
    node: Node
    probe: LastProbe

    @property
    def node_reachable(self) -> bool:
        return self.probe.answered


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
    """One device and its config, as the user imports it; `created`: the device is new (its
    config comes with the set-up steps)."""

    device: Device
    config: ClientConfig
    created: bool = False


class DeviceService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        placement: Placement,
        configs: DeviceConfigs,
        wireguard: WireGuard,
        node_locks: NodeLocks,
        clock: Clock = system_clock,
        *,
        role_of: Callable[[User], Role],
        plans: tuple[Plan, ...] = (),
        default_limit: int = DEFAULT_DEVICE_LIMIT,
    ) -> None:
        self._sessions = sessions
        self._role_of = role_of
        self._placement = placement
        self._configs = configs
        self._wireguard = wireguard
        self._node_locks = node_locks
        self._clock = clock
        self._plans = plans
        self._default_limit = default_limit
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def device_limit(self, user: User) -> int:
        """How many devices the user may have: admins 20, paid access its plan's, a trial one,
        else the default (DEVICE_LIMIT)."""
        if self._role_of(user) is Role.ADMIN:
            return ADMIN_DEVICE_LIMIT
        if user.access_kind is AccessKind.TRIAL:
            return TRIAL_DEVICE_LIMIT
        if user.access_kind is AccessKind.PAID:
            plan = find_plan(self._plans, user.plan_code)
            if plan is not None:
                return plan.devices
        return self._default_limit

    async def limit_of(self, user: User) -> int:
        """The user's device limit with the device slots their add-ons give now."""
        limit = self.device_limit(user)
        if user.access_kind is not AccessKind.PAID or self._role_of(user) is Role.ADMIN:
            return limit
        async with self._sessions() as session:
            return limit + await extra_devices(session, user.id, self._clock())

    def route_presets(self) -> list[RoutePreset]:
        """The split-tunnelling presets a device may choose, in the operator's order."""
        return self._configs.route_presets()

    async def devices_of(self, user_id: int) -> list[Device]:
        """The user's devices, oldest first, each with its node."""
        async with self._sessions() as session:
            return await _devices_of(session, user_id)

    async def _with_devices(self, user_id: int) -> tuple[User, list[Device]]:
        """`require_access` and `devices_of` in one read."""
        async with self._sessions() as session:
            user = self._with_access(await session.get(User, user_id))
            return user, await _devices_of(session, user_id)

    async def numbered(self, user_id: int, device_id: int) -> tuple[int, Device]:
        """The user's device and its place in their list (from 1), from the database alone;
        DeviceNotFound when it is not theirs."""
        await self.require_access(user_id)
        for number, device in enumerate(await self.devices_of(user_id), start=1):
            if device.id == device_id:
                return number, device
        raise DeviceNotFound()

    async def overview(self, user_id: int) -> DeviceList:
        """The user's devices with what their nodes' latest probes read, and their limit."""
        user = await self.require_access(user_id)
        devices = await self.devices_of(user_id)
        probes = await self._last_probes(device.node_id for device in devices)
        statuses = tuple(
            DeviceStatus(device, device.node, probes[device.node_id]) for device in devices
        )
        return DeviceList(statuses, await self.limit_of(user), self._clock())

    async def _last_probes(self, node_ids: Iterable[int]) -> dict[int, LastProbe]:
        async with self._sessions() as session:
            return await last_probes(session, node_ids)

    async def add(self, user_id: int, name: str = "") -> DeviceConfig:
        """A new device, on the node of the user's other devices (or their chosen one);
        refused at the limit. An empty name is stored as "" and shown by position
        ("Device 2") in the user's language."""
        name = clean_name(name) if name else ""
        async with self._locks[user_id]:
            user, devices = await self._with_devices(user_id)
            return await self._add(user, devices, name)

    async def first(self, user_id: int) -> DeviceConfig:
        """The config of the user's first device; a user without one gets one added, exactly
        as "Add device" adds it (the same limit check)."""
        async with self._locks[user_id]:
            user, devices = await self._with_devices(user_id)
            if devices:
                device = await self._addressed(user, devices[0])
                return DeviceConfig(device, self._configs.config(device))
            return await self._add(user, devices, "")

    async def check_room(self, user: User, devices: list[Device] | None = None) -> None:
        """DeviceLimitReached unless the user may have one more device, WireGuard and VLESS
        devices counted together (`devices`: their WireGuard devices, when read already)."""
        limit = await self.limit_of(user)
        async with self._sessions() as session:
            count = 0 if devices is None else len(devices)
            for model in (Device, VlessDevice) if devices is None else (VlessDevice,):
                query = select(func.count()).select_from(model).where(model.user_id == user.id)
                count += await session.scalar(query) or 0
        if count >= limit:
            raise DeviceLimitReached(limit=limit, count=count)

    async def _add(self, user: User, devices: list[Device], name: str) -> DeviceConfig:
        await self.check_room(user, devices)
        preferred = devices[0].node_id if devices else user.preferred_node_id
        trial = user.access_kind is AccessKind.TRIAL
        node = await self._placement.for_new_device(preferred, trial=trial)
        device = Device(user_id=user.id, name=name, created_at=self._clock())
        self._configs.store_keys(device, DeviceKeys.fresh())
        await self._placement.place_new(device, node, trial=trial)
        return DeviceConfig(device, self._configs.config(device, node), created=True)

    async def _addressed(self, user: User, device: Device) -> Device:
        """The device with an address: the user's devices that gave theirs back (they were
        long without access) get new ones and their peers now; the refusal when none is free."""
        if device.address4 is not None:
            return device
        trial = user.access_kind is AccessKind.TRIAL
        done, refused = await self._placement.readdress(user.id, trial=trial)
        for readdressed in await self.devices_of(user.id):
            if readdressed.id in done:
                await self._put_peer(readdressed)
        stored = await self._owned_device(user.id, device.id)
        if stored.address4 is None:
            raise refused or NodesFull()
        return stored

    async def _put_peer(self, device: Device) -> None:
        """Best effort: the device's peer on its node now (else at the node's next reconcile)."""
        async with self._node_locks.shared(device.node_id):
            try:
                await self._wireguard.add_peer(target_of(device.node), self._configs.peer(device))
            except NodeError as error:
                log.warning("device %s left for reconcile on %s", device.id, error.node)

    async def config(self, user_id: int, device_id: int) -> DeviceConfig:
        """The config of one of the user's devices (another user's id is not found)."""
        user = await self.require_access(user_id)
        device = await self._addressed(user, await self._owned_device(user_id, device_id))
        return DeviceConfig(device, self._configs.config(device))

    async def rename(self, user_id: int, device_id: int, name: str) -> Device:
        """Give the device a name of 1-32 characters (trimmed, no control characters)."""
        name = clean_name(name)
        await self.require_access(user_id)
        async with self._sessions.begin() as session:
            device = await self._owned(session, user_id, device_id)
            device.name = name
        return device

    async def set_routes(self, user_id: int, device_id: int, preset_key: str) -> DeviceConfig:
        """Send only a preset's networks through the tunnel ("": everything); the node's peer
        is unchanged (it limits what the client may send from, not to), only the config is."""
        if preset_key and not self._configs.knows_preset(preset_key):
            raise UnknownRoutes()
        await self.require_access(user_id)
        async with self._sessions.begin() as session:
            device = await self._owned(session, user_id, device_id)
            device.route_preset = preset_key
        return DeviceConfig(device, self._configs.config(device))

    async def rekey(self, user_id: int, device_id: int) -> DeviceConfig:
        """New key pair and preshared key for the device; the old peer leaves the node before
        this returns, so the old config stops at once."""
        async with self._locks[user_id]:
            user = await self.require_access(user_id)
            device = await self._addressed(user, await self._owned_device(user_id, device_id))
            old = self._configs.peer(device)
            keys = DeviceKeys.fresh()
            self._configs.store_keys(device, keys)
            target = target_of(device.node)
            async with self._node_locks.shared(device.node_id):
                try:
                    await self._wireguard.remove_peer(target, old.public_key)
                    await self._wireguard.add_peer(target, self._configs.peer(device))
                except NodeError as error:
                    log.warning("new keys for device %s failed: %s", device.id, error)
                    await self._put_back(target, old, device)
                    raise NodeUnavailable(node=device.node.name) from error
                async with self._sessions.begin() as session:
                    stored = await session.get_one(Device, device.id)
                    self._configs.store_keys(stored, keys)
                    stored.restart_counters()  # the new peer counts from zero
            return DeviceConfig(device, self._configs.config(device))

    async def _put_back(self, target: NodeTarget, old: PeerSpec, device: Device) -> None:
        """Best effort after a failed re-key: the stored peer back on the node."""
        try:
            await self._wireguard.add_peer(target, old)
        except NodeError:
            log.warning("device %s left for reconcile on %s", device.id, target.name)

    async def move(self, user_id: int, node_id: int) -> list[DeviceConfig]:
        """Put all the user's devices on another node (a first device is made there when they
        have none): new peers there, then the old ones removed. Returns every device's new
        config, oldest device first."""
        async with self._locks[user_id]:
            await self.require_access(user_id)
            node = await self._placement.usable(node_id)
            if await self.devices_of(user_id):
                await self._placement.move_user(user_id, node)
            async with self._sessions.begin() as session:
                user = await session.get_one(User, user_id)
                user.preferred_node_id = node.id
        devices = await self.devices_of(user_id)
        if not devices:
            return [await self.add(user_id)]  # on the node just chosen
        return [DeviceConfig(device, self._configs.config(device)) for device in devices]

    async def remove(self, user_id: int, device_id: int) -> bool:
        """Remove the device: its peer leaves the node, then the row goes. True when the node
        confirmed the removal; False when it did not answer and the peer is left for reconcile
        (it removes every peer the database does not know)."""
        async with self._locks[user_id]:
            await self.require_access(user_id)
            device = await self._owned_device(user_id, device_id)
            removed = await self._placement.remove_peer(device.public_key, device.node)
            async with self._sessions.begin() as session:
                user = await session.get_one(User, user_id, with_for_update=True)
                stored = await session.get(Device, device.id)
                if stored is not None:
                    count_removed(user, [stored])
                    await session.delete(stored)
            return removed

    async def status(self, user_id: int) -> DeviceStatus | None:
        """The user's first device with its handshake and traffic as last probed; None
        without one."""
        devices = await self.devices_of(user_id)
        if not devices:
            return None
        device = devices[0]
        probes = await self._last_probes([device.node_id])
        return DeviceStatus(device, device.node, probes[device.node_id])

    async def current_node(self, user_id: int) -> Node | None:
        """The node of the user's first device."""
        devices = await self.devices_of(user_id)
        return devices[0].node if devices else None

    async def require_access(self, user_id: int) -> User:
        """The user, if they may connect now; NoAccess otherwise."""
        async with self._sessions() as session:
            return self._with_access(await session.get(User, user_id))

    def _with_access(self, user: User | None) -> User:
        if user is None or not user.has_access(self._clock()):
            raise NoAccess()
        return user

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


def handshake_age(device: Device, now: datetime) -> float | None:
    """Seconds since the device's last handshake as last probed, or None if there was none."""
    if device.last_handshake_at is None:
        return None
    return max((now - device.last_handshake_at).total_seconds(), 0.0)


def probe_age(probe: LastProbe, now: datetime) -> float | None:
    """Seconds since the node's handshakes and traffic were read, or None if never."""
    if probe.read_at is None:
        return None
    return max((now - probe.read_at).total_seconds(), 0.0)


async def _devices_of(session: AsyncSession, user_id: int) -> list[Device]:
    rows = await session.scalars(
        select(Device)
        .options(joinedload(Device.node))
        .where(Device.user_id == user_id)
        .order_by(Device.id)
    )
    return list(rows.all())
