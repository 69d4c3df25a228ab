"""VLESS with Reality next to WireGuard: a node's Xray, users' VLESS devices and their links.

The database is the truth: a node's Reality keys (encrypted) and settings, and every VLESS
device with its id. A node's Xray serves exactly the VLESS devices whose owner has access now,
and those in grace under their grace name, routed to the grace addresses only (nodes.xray_grace);
the end of grace removes them, renewal brings the same id back, so the link works again.
Users are changed live (nobody else's sessions are cut) and the config file is written too, so
a restarted Xray serves the same users."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.cipher import SecretCipher
from db.models import Node, NodeStatus, User, VlessDevice
from nodes import NodeError, NodeTarget
from nodes.reality import (
    DEFAULT_PORT,
    RealityError,
    RealityInbound,
    ServerOptions,
    XrayUser,
    generate_private_key,
    generate_short_id,
    public_key,
    server_config,
)
from nodes.xray import Xray, XrayConfigRefused, XrayDown, XrayPlan
from nodes.xray_grace import GraceRoutes, grace_name, with_grace
from nodes.xrayforeign import NOTHING, ForeignXray
from nodes.xraysetup import RELEASES
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.devices import DeviceService
from services.errors import (
    InvalidInput,
    NodeNotFound,
    NodeSetupFailed,
    NodeUnavailable,
    ServiceError,
)
from services.grace import Grace
from services.locks import NodeLocks
from services.notifier import Notifier
from services.targets import target_of
from services.vlesslinks import VlessLink, subscription_body

log = logging.getLogger(__name__)

REALITY_KEY = "reality private key"  # purposes the cipher binds to what it seals
SHORT_IDS = "reality short ids"
START_CHECKS, START_PAUSE = 10, 0.5  # how long a restarted Xray has to serve its API


class NoVlessNode(ServiceError):
    """No enabled node runs VLESS."""

    key = "error-no-vless-node"


class InvalidReality(InvalidInput):
    key = "error-reality-settings"


@dataclass(frozen=True, slots=True)
class VlessMove:
    """What moving a node's VLESS devices did: how many went to `target` and how many owners
    got the new link; `stayed`: devices left where they were (no other VLESS node, or it did
    not answer)."""

    target: str | None
    moved: int
    delivered: int
    stayed: int


NOTHING_MOVED = VlessMove(None, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class VlessAccess:
    """One VLESS device and the link the user imports."""

    device: VlessDevice
    link: str


class VlessService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        xray: Xray,
        cipher: SecretCipher,
        node_locks: NodeLocks,
        devices: DeviceService,
        clock: Clock = system_clock,
        options: ServerOptions | None = None,
        notifier: Notifier | None = None,
        grace: Grace | None = None,
    ) -> None:
        self.grace = grace or Grace(0)
        self._sessions = sessions
        self.notifier = notifier
        self.xray = xray
        self._cipher = cipher
        self._node_locks = node_locks
        self._devices = devices
        self._clock = clock
        self.options = options or ServerOptions()  # the lab allows its private hosts

    async def enable(
        self,
        node_name: str,
        target: str,
        server_name: str,
        *,
        port: int = DEFAULT_PORT,
        actor_id: int,
    ) -> Node:
        """Give the node a VLESS + Reality inbound: new keys and a short id (kept encrypted),
        the handshake target (a real TLS site) and the name clients send; an inbound it had
        keeps its keys, so links already sent stay valid. The node's Xray is started again
        from the new config; NodeUnavailable when the node did not take it (stored all the
        same: the next reconcile applies it)."""
        async with self._sessions.begin() as session:
            node = await session.scalar(select(Node).where(Node.name == node_name))
            if node is None:
                raise NodeNotFound(node=node_name)
            private = (
                self._cipher.decrypt(node.reality_private_key_enc, REALITY_KEY)
                if node.reality_private_key_enc
                else generate_private_key()
            )
            short_ids = (
                self._cipher.decrypt(node.reality_short_ids_enc, SHORT_IDS)
                if node.reality_short_ids_enc
                else generate_short_id()
            )
            try:
                inbound = RealityInbound(
                    private, tuple(short_ids.split(",")), target, server_name, port
                )
            except RealityError as error:
                raise InvalidReality(reason=str(error)) from None
            node.xray_port = inbound.port
            node.reality_private_key_enc = self._cipher.encrypt(private, REALITY_KEY)
            node.reality_public_key = public_key(private)
            node.reality_short_ids_enc = self._cipher.encrypt(short_ids, SHORT_IDS)
            node.reality_target = inbound.target
            node.reality_server_name = inbound.server_name
            details = f"vless port={inbound.port} target={inbound.target}"
            record(session, self._clock, actor_id, AuditAction.ADD_NODE, node.name, details)
        try:
            async with self._node_locks.exclusive(node.id):
                wanted, limited = await self._served(node.id)
                config = server_config(inbound, [*wanted, *limited], self.options)
                routes = await self.grace.routes(node.dns)
                await self.xray.write_config(target_of(node), with_grace(config, routes))
                await self.xray.restart(target_of(node))
        except NodeError as error:
            log.warning("vless on %s not applied: %s", node.name, error.reason)
            raise NodeUnavailable(node=node.name) from None
        return node

    async def install(
        self,
        node_name: str,
        target: str,
        server_name: str,
        *,
        port: int = DEFAULT_PORT,
        releases: str | None = None,
        progress: Callable[[str], Awaitable[None]] | None = None,
    ) -> ForeignXray:
        """Ready a node for `enable` with these settings, before anything is stored: the
        settings checked, Xray and its service installed unless the node has them
        (scripts/xray-setup.sh; the release's SHA-256 is checked), and what its Xray config
        serves that is not the bot's (kept by `enable` and every reconcile) counted.
        NodeSetupFailed when the install stopped (nothing installed), InvalidReality for
        settings Xray would refuse or a port the node's own inbounds take."""
        try:
            key, short_id = generate_private_key(), generate_short_id()
            RealityInbound(key, (short_id,), target, server_name, port)
        except RealityError as error:
            raise InvalidReality(reason=str(error)) from None
        async with self._sessions() as session:
            node = await session.scalar(select(Node).where(Node.name == node_name))
        if node is None:
            raise NodeNotFound(node=node_name)
        machine = target_of(node)
        try:
            await self.xray.install(machine, releases=releases or RELEASES, progress=progress)
            return await self.xray.foreign(machine, port)
        except XrayConfigRefused as error:
            raise InvalidReality(reason=error.reason) from None
        except NodeError as error:
            raise NodeSetupFailed(reason=error.reason) from None

    def inbound(self, node: Node) -> RealityInbound:
        """The node's inbound from the database (its secrets decrypted)."""
        if (
            node.xray_port is None
            or node.reality_private_key_enc is None
            or node.reality_short_ids_enc is None
            or node.reality_target is None
            or node.reality_server_name is None
        ):
            raise NodeUnavailable(node=node.name)
        return RealityInbound(
            self._cipher.decrypt(node.reality_private_key_enc, REALITY_KEY),
            tuple(self._cipher.decrypt(node.reality_short_ids_enc, SHORT_IDS).split(",")),
            node.reality_target,
            node.reality_server_name,
            node.xray_port,
        )

    async def _served(self, node_id: int) -> tuple[list[XrayUser], list[XrayUser]]:
        """The node's VLESS devices its Xray serves, read once: those whose owner has access
        now (not banned, expired, revoked or over a traffic limit), and those whose owner is
        in grace, under their grace name (same id, so the same link), routed to the grace
        addresses only."""
        now = self._clock()
        async with self._sessions() as session:
            rows = await session.execute(
                select(VlessDevice, User)
                .join(User, User.id == VlessDevice.user_id)
                .where(VlessDevice.node_id == node_id)
                .order_by(VlessDevice.id)
            )
        wanted: list[XrayUser] = []
        limited: list[XrayUser] = []
        for device, user in rows.all():
            if user.has_access(now):
                wanted.append(XrayUser(device.email, device.uuid))
            elif self.grace.holds(user, now):
                limited.append(XrayUser(grace_name(device.id), device.uuid))
        return wanted, limited

    async def reconcile(self, node: Node) -> XrayPlan | None:
        """Make the node's Xray serve exactly the database's users, and keep the users it had
        that are not the bot's (made by hand or by another panel: adopted, like foreign
        peers): the config file first (the truth at Xray's next start), then the running Xray,
        live. None when the node has no VLESS; a NodeError when it cannot be reached."""
        if node.xray_port is None:
            return None
        async with self._node_locks.exclusive(node.id):
            wanted, limited = await self._served(node.id)
            target = target_of(node)
            try:
                running: list[XrayUser] | None = await self.xray.users(target, even_if_down=True)
            except XrayDown:
                running = None
            kept = [user for user in running or [] if not _ours(user.email)]
            routes = await self.grace.routes(node.dns)
            users = [*wanted, *limited, *kept]
            config = with_grace(server_config(self.inbound(node), users, self.options), routes)
            own_config = await self.xray.write_config(target, config) != NOTHING
            if running is None:
                log.warning("node %s: xray not running, restarting it", node.name)
                await self.xray.restart(target)
                await self._answering(target)
                return XrayPlan(tuple(user.email for user in [*wanted, *limited]), ())
            limited = await self._limit(node, routes, limited, own_config=own_config)
            users = [*wanted, *limited, *kept]
            return await self.xray.reconcile(target, users, port=node.xray_port, even_if_down=True)

    async def _limit(
        self, node: Node, routes: GraceRoutes, limited: list[XrayUser], *, own_config: bool
    ) -> list[XrayUser]:
        """Bring the running Xray's grace routes in line before users in grace are served;
        when it cannot (an Xray started before its config had them), they are not served
        (never full access in grace) until Xray restarts from the config file. Nor are they
        on a node whose Xray keeps its own config: replacing the rules would drop its own."""
        if own_config:
            if limited:
                log.warning("node %s: grace users left out: its own Xray routing", node.name)
            return []
        try:
            await self.xray.route_grace(target_of(node), routes, even_if_down=True)
        except NodeError as error:
            if limited:
                log.warning("node %s: grace users left out: %s", node.name, error.reason)
            return []
        return limited

    async def _answering(self, target: NodeTarget) -> None:
        """Wait until the restarted Xray serves its API (a moment after the service starts);
        XrayDown when it never does (no Xray installed on the node, or it will not start)."""
        for _ in range(START_CHECKS - 1):
            try:
                await self.xray.users(target, even_if_down=True)
            except XrayDown:
                await asyncio.sleep(START_PAUSE)
            else:
                return
        await self.xray.users(target, even_if_down=True)

    async def add(self, user_id: int, name: str = "") -> VlessAccess:
        """A new VLESS device for the user, on the node of their WireGuard device when it runs
        VLESS, else on the VLESS node with the fewest; served at once when the node answers."""
        user = await self._devices.require_access(user_id)
        await self._devices.check_room(user)
        node = await self._node_for(user_id)
        async with self._sessions.begin() as session:
            device = VlessDevice(
                user_id=user_id, node_id=node.id, name=name, uuid=str(uuid.uuid4()),
                created_at=self._clock(), uplink_bytes=0, downlink_bytes=0,
            )  # fmt: skip
            session.add(device)
        try:
            async with self._node_locks.shared(node.id):
                await self.xray.add_user(target_of(node), XrayUser(device.email, device.uuid))
        except NodeError as error:
            log.warning("vless device %s left for reconcile on %s", device.id, error.node)
        return VlessAccess(device, await self._link(device, node))

    async def links_for(self, user_id: int) -> list[VlessAccess]:
        """The user's VLESS devices with their links; a user with access and none gets one."""
        await self._devices.require_access(user_id)
        found = await self.accesses(user_id)
        return found or [await self.add(user_id)]

    async def available(self) -> bool:
        """Whether an enabled node offers VLESS."""
        async with self._sessions() as session:
            query = select(Node.id).where(
                Node.xray_port.is_not(None), Node.status == NodeStatus.ENABLED
            )
            return await session.scalar(query.limit(1)) is not None

    async def _node_for(self, user_id: int) -> Node:
        current = await self._devices.current_node(user_id)
        if current is not None and _serves(current):
            return current
        node = await self._fewest()
        if node is None:
            raise NoVlessNode()
        return node

    async def _fewest(self, other_than: int | None = None) -> Node | None:
        """The enabled VLESS node with the fewest VLESS devices (then by name)."""
        async with self._sessions() as session:
            count = (
                select(func.count(VlessDevice.id))
                .where(VlessDevice.node_id == Node.id)
                .scalar_subquery()
            )
            query = select(Node).where(
                Node.xray_port.is_not(None), Node.status == NodeStatus.ENABLED
            )
            if other_than is not None:
                query = query.where(Node.id != other_than)
            return await session.scalar(query.order_by(count, Node.name).limit(1))

    async def move_all(self, source: Node, preferred: Node | None = None) -> VlessMove:
        """Move every VLESS device of `source` (migrated or drained) to `preferred` when it
        runs VLESS, else to the enabled VLESS node with the fewest: each keeps its id, the
        new node serves it before the old one stops, and its owner is sent the new link.
        Nothing changes when no other VLESS node exists or the chosen one does not answer."""
        async with self._sessions() as session:
            query = select(VlessDevice.id).where(VlessDevice.node_id == source.id)
            ids = list(await session.scalars(query.order_by(VlessDevice.id)))
        if not ids:
            return NOTHING_MOVED
        wanted = preferred is not None and _serves(preferred) and preferred.id != source.id
        target = preferred if wanted else await self._fewest(other_than=source.id)
        if target is None:
            return VlessMove(None, 0, 0, len(ids))
        await self._put_on(ids, target.id, notice=True)
        try:
            await self.reconcile(target)
        except (NodeError, NodeUnavailable):
            log.warning(
                "vless devices of %s not moved: %s does not answer", source.name, target.name
            )
            await self._put_on(ids, source.id)
            return VlessMove(target.name, 0, 0, len(ids))
        try:
            await self.reconcile(source)
        except NodeError as error:  # its users go at its next reconcile
            log.warning("vless users left on %s: %s", source.name, error.reason)
        delivered = 0
        for device_id in ids:
            delivered += await self.tell_moved(device_id)
        return VlessMove(target.name, len(ids), delivered, 0)

    async def _put_on(self, ids: list[int], node_id: int, *, notice: bool = False) -> None:
        """Put the devices on the node; `notice` marks them for the "moved" message in the same
        transaction, so a crash cannot lose it (services.moves sends those due at start)."""
        async with self._sessions.begin() as session:
            query = update(VlessDevice).where(VlessDevice.id.in_(ids))
            await session.execute(query.values(node_id=node_id, move_notice_due=notice))

    async def tell_moved(self, device_id: int) -> bool:
        """Send the owner of a moved device its new link and its QR code once (the
        subscription follows alone), then clear the device's notice (a user who blocked the
        bot is not tried again; /vless shows the same link)."""
        async with self._sessions() as session:
            device = await session.get_one(VlessDevice, device_id)
            node = await session.get_one(Node, device.node_id)
        link = await self._link(device, node)
        sent = self.notifier is not None and await self.notifier.send_link(
            device.user_id, link, "vless-moved-notice", node=node.name
        )
        async with self._sessions.begin() as session:
            query = update(VlessDevice).where(VlessDevice.id == device_id)
            await session.execute(query.values(move_notice_due=False))
        return sent

    async def accesses(self, user_id: int) -> list[VlessAccess]:
        """The user's VLESS devices with their links, oldest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(VlessDevice, Node)
                .join(Node, Node.id == VlessDevice.node_id)
                .where(VlessDevice.user_id == user_id)
                .order_by(VlessDevice.id)
            )
            pairs = rows.all()
        return [VlessAccess(device, await self._link(device, node)) for device, node in pairs]

    async def subscription_of(self, user_id: int) -> tuple[str, int, int]:
        """The subscription body the apps fetch (the user's links, base64) and the bytes
        their VLESS devices sent and received."""
        accesses = await self.accesses(user_id)
        up = sum(access.device.uplink_bytes for access in accesses)
        down = sum(access.device.downlink_bytes for access in accesses)
        return subscription_body([access.link for access in accesses]), up, down

    async def _link(self, device: VlessDevice, node: Node) -> str:
        inbound = self.inbound(node)
        host = node.endpoint.rpartition(":")[0].strip("[]")
        async with self._sessions() as session:
            number = await session.scalar(
                select(func.count())
                .select_from(VlessDevice)
                .where(VlessDevice.user_id == device.user_id, VlessDevice.id <= device.id)
            )
        name = device.name or f"#{number}"
        return str(
            VlessLink(
                device.uuid, host, inbound.port, inbound.server_name, inbound.public_key,
                inbound.short_ids[0], f"{node.label} {name}",
            )
        )  # fmt: skip

    async def count_traffic(self) -> None:
        """Read and zero every VLESS node's per-user counters and add them to the devices (a
        node that does not answer keeps counting; its bytes are read next time)."""
        async with self._sessions() as session:
            nodes = (await session.scalars(select(Node).where(Node.xray_port.is_not(None)))).all()
        for node in nodes:
            try:
                counted = await self.xray.traffic(target_of(node))
            except NodeError as error:
                log.warning("vless traffic of %s not read: %s", node.name, error.reason)
                continue
            ids: dict[int, tuple[int, int]] = {}
            for name, (up, down) in counted.items():  # v12 and g12 are one device
                if _ours(name):
                    before = ids.get(int(name[1:]), (0, 0))
                    ids[int(name[1:])] = (before[0] + up, before[1] + down)
            if not ids:
                continue
            async with self._sessions.begin() as session:
                query = select(VlessDevice).where(
                    VlessDevice.id.in_(ids), VlessDevice.node_id == node.id
                )
                for device in await session.scalars(query):
                    up, down = ids[device.id]
                    device.uplink_bytes += up
                    device.downlink_bytes += down


def _serves(node: Node) -> bool:
    """Whether the node is enabled and runs VLESS."""
    return node.xray_port is not None and node.status is NodeStatus.ENABLED


def _ours(name: str) -> bool:
    """Whether a user name on a node is one of ours (v and a device id, or g in grace)."""
    return name[:1] in ("v", "g") and name[1:].isdigit() and len(name) < 20
