"""Where devices live: which node takes a device, the address it gets there, and moving
devices between nodes with an undo when the new node refuses them."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Device, ForeignPeer, Node, NodeHealth, NodeStatus, User
from nodes import NodeError, WireGuard
from nodes.amnezia import AMNEZIAWG, WIREGUARD
from services.addresses import free_addresses, pool_size, reserved_addresses, twin_address6
from services.alerts import AlertGate
from services.clientconfig import DeviceConfigs
from services.errors import (
    NodeFull,
    NodeNotFound,
    NodesFull,
    NodeUnavailable,
    NoNodes,
    ServiceError,
    TrialsFull,
)
from services.locks import NodeLocks
from services.targets import target_of

log = logging.getLogger(__name__)

ADDRESS_RETRIES = 5
DEFAULT_TRIAL_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class NodeChoice:
    """A node that takes devices now: how many devices hold its addresses (of them, trial
    ones), how many it has room for, and its last load."""

    id: int
    name: str
    region: str
    protocol: str
    devices: int
    capacity: int
    trials: int
    load_percent: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} · {self.region}" if self.region else self.name

    @property
    def full(self) -> bool:
        return self.devices >= self.capacity


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


def trial_limit(capacity: int, share: float) -> int:
    """How many trial devices a node with room for `capacity` devices takes."""
    return math.floor(capacity * share)


async def device_counts(session: AsyncSession) -> dict[int, int]:
    """Devices per node id."""
    rows = await session.execute(select(Device.node_id, func.count()).group_by(Device.node_id))
    return {node_id: count for node_id, count in rows.all()}


async def foreign_networks(
    session: AsyncSession, node_id: int | None = None
) -> dict[int, list[str]]:
    """The allowed IPs of the foreign peers of every node (or of one), by node id."""
    query = select(ForeignPeer.node_id, ForeignPeer.allowed_ips)
    if node_id is not None:
        query = query.where(ForeignPeer.node_id == node_id)
    networks: defaultdict[int, list[str]] = defaultdict(list)
    for owner, allowed in (await session.execute(query)).all():
        networks[owner].extend(part for part in allowed.split(",") if part)
    return networks


def reserved_on(node: Node, networks: Sequence[str]) -> set[str]:
    """The node's addresses its foreign peers hold."""
    return reserved_addresses(networks, node.server_address4, node.server_address6)


@dataclass(frozen=True, slots=True)
class Moved:
    """A device given a place on another node, and where it was, to put it back."""

    device_id: int
    user_id: int
    node_id: int
    address4: str | None
    address6: str | None
    public_key: str


class Placement:
    """Chooses nodes and addresses for devices and moves them; every path that puts a device on
    a node (a new device, /server, /migrate, /drain, an address given back) goes through here.
    Trial devices hold at most `trial_share` of a node's addresses."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        configs: DeviceConfigs,
        node_locks: NodeLocks,
        alerts: AlertGate | None = None,
        *,
        trial_share: float = DEFAULT_TRIAL_SHARE,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._configs = configs
        self._node_locks = node_locks
        self._alerts = alerts
        self.trial_share = trial_share

    # --- which node ---------------------------------------------------------------------------

    async def choices(self, *, exclude: int | None = None) -> list[NodeChoice]:
        """Nodes that take devices now (enabled and not down by the probes), least loaded
        first."""
        choices, _ = await self._open_nodes(exclude)
        return choices

    async def _open_nodes(self, exclude: int | None) -> tuple[list[NodeChoice], dict[int, Node]]:
        """`choices`, and the enabled nodes by id as the same read found them."""
        async with self._sessions() as session:
            usage = await self._usage(session)
            foreign = await foreign_networks(session)
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
                devices=usage.get(node.id, (0, 0))[0],
                capacity=pool_size(node.server_address4) - len(reserved_on(node, foreign[node.id])),
                trials=usage.get(node.id, (0, 0))[1],
                load_percent=health.load_percent if health and health.checked_at else None,
            )
            for node, health in nodes
            if (health is None or health.up) and node.id != exclude
        ]
        return ranked(choices), {node.id: node for node, _ in nodes}

    @staticmethod
    async def _usage(session: AsyncSession) -> dict[int, tuple[int, int]]:
        """(devices holding an address, of them trial ones) per node id."""
        trial = case((User.access_kind == AccessKind.TRIAL, 1), else_=0)
        rows = await session.execute(
            select(Device.node_id, func.count(), func.sum(trial))
            .join(User, User.id == Device.user_id)
            .where(Device.address4.is_not(None))
            .group_by(Device.node_id)
        )
        return {node_id: (count, int(trials or 0)) for node_id, count, trials in rows.all()}

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

    async def for_new_device(self, preferred_node_id: int | None, *, trial: bool = False) -> Node:
        """The user's chosen node if it takes devices and has room; else the best node of the
        chosen node's region, plain WireGuard first (AmneziaWG needs its own app, so it is
        chosen on purpose). A trial device goes only where trials hold less than their share.
        NoNodes without nodes; TrialsFull when only paying users would fit; NodesFull (and
        each full node's alert, once an hour) when nobody fits."""
        choices, enabled = await self._open_nodes(exclude=None)
        open_ = [choice for choice in choices if not choice.full]
        fit = [choice for choice in open_ if not trial or self._trial_room(choice)]
        region = None
        if preferred_node_id is not None:
            if any(choice.id == preferred_node_id for choice in fit):
                return enabled[preferred_node_id]
            chosen = enabled.get(preferred_node_id)
            if chosen is None:  # disabled since: its region still leads
                async with self._sessions() as session:
                    chosen = await session.get(Node, preferred_node_id)
            region = chosen.region if chosen else None
        best = ranked(fit, region=region, protocol=WIREGUARD)
        if best:
            return enabled[best[0].id]
        if not choices:
            raise NoNodes()
        if open_:
            raise TrialsFull()
        for choice in choices:
            await self._full(choice.id, choice.name)
        raise NodesFull()

    async def trial_room(self) -> bool:
        """Whether a trial device would find a place now: False only when nodes take devices
        and none has room for one (without nodes /get_config says there are none)."""
        choices = await self.choices()
        return not choices or any(not c.full and self._trial_room(c) for c in choices)

    def _trial_room(self, choice: NodeChoice) -> bool:
        return choice.trials < trial_limit(choice.capacity, self.trial_share)

    async def _full(self, node_id: int, name: str) -> None:
        """Tell the admins the node has no address left, once an hour per node."""
        if self._alerts is not None:
            await self._alerts.once_per_hour(f"node-full:{node_id}", "admin-node-full", node=name)

    async def drain_target(self, source: Node) -> Node:
        """Where a draining node's devices go: its region and protocol first."""
        choices, enabled = await self._open_nodes(exclude=source.id)
        best = ranked(choices, region=source.region, protocol=source.protocol)
        if not best:
            raise NodeNotFound(node=source.name)
        return enabled[best[0].id]

    async def amnezia_choice(self) -> NodeChoice | None:
        """The least loaded AmneziaWG node that takes devices (for networks that block
        WireGuard), or None."""
        return next(
            (choice for choice in await self.choices() if choice.protocol == AMNEZIAWG), None
        )

    # --- a new device ---------------------------------------------------------------------------

    async def place_new(self, device: Device, node: Node, *, trial: bool = False) -> None:
        """Insert the device with the first free address on `node`, then add its peer; if the
        node fails, the row goes again, so row and peer never disagree."""
        async with self._node_locks.shared(node.id):
            await self._allocate(node, device, trial=trial)
            device.node = node
            try:
                await self._wireguard.add_peer(target_of(node), self._configs.peer(device))
            except NodeError as error:
                log.warning("placing device %s on %s failed: %s", device.id, node.name, error)
                async with self._sessions.begin() as session:
                    await session.delete(await session.get_one(Device, device.id))
                raise NodeUnavailable(node=node.name) from error

    async def _allocate(self, node: Node, device: Device, *, trial: bool) -> None:
        """Give `device` the first free address on `node`: a new device is inserted with it, a
        stored one (whose address was given back) gets it unless it got one meanwhile. The
        unique (node, address) constraint settles a race with another process: the loser
        takes the next address. NodeFull (the admins told, once an hour) when none is left."""
        try:
            await self._take_address(node, device, trial=trial)
        except NodeFull:
            await self._full(node.id, node.name)
            raise

    async def _take_address(self, node: Node, device: Device, *, trial: bool) -> None:
        for _ in range(ADDRESS_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    used, reserved = await self._lock_addresses(session, node)
                    if trial:
                        await self._check_trial_room(session, node, len(reserved))
                    if device.id is None:
                        row = device
                        session.add(row)
                    else:
                        row = await session.get_one(Device, device.id)
                        if row.address4 is not None:
                            return
                    free = next(free_addresses(node.server_address4, used | reserved), None)
                    self._address(row, node, free)
            except IntegrityError:
                log.info("address race on %s, retrying", node.name)
                continue
            return
        raise NodeUnavailable(node=node.name)

    @staticmethod
    def _address(device: Device, node: Node, address4: str | None) -> None:
        """Put the device on `node` at `address4` (and its IPv6 twin); NodeFull for None."""
        if address4 is None:
            raise NodeFull(node=node.name)
        device.node_id = node.id
        device.address4 = address4
        device.address6 = twin_address6(node.server_address6, address4, node.server_address4)

    async def _check_trial_room(self, session: AsyncSession, node: Node, reserved: int) -> None:
        """TrialsFull when the node's trial devices hold their share already (read under the
        node's row lock, so two trials cannot both take the last place)."""
        trials = await session.scalar(
            select(func.count())
            .select_from(Device)
            .join(User, User.id == Device.user_id)
            .where(Device.node_id == node.id, Device.address4.is_not(None))
            .where(User.access_kind == AccessKind.TRIAL)
        )
        capacity = pool_size(node.server_address4) - reserved
        if (trials or 0) >= trial_limit(capacity, self.trial_share):
            raise TrialsFull()

    async def _lock_addresses(self, session: AsyncSession, node: Node) -> tuple[set[str], set[str]]:
        """The addresses its devices hold on `node`, and those its foreign peers hold, read
        while holding the node's row (PostgreSQL: allocations on a node go one at a time;
        SQLite's BEGIN IMMEDIATE does that already)."""
        await session.execute(
            select(Node.id).where(Node.id == node.id).with_for_update(key_share=True)
        )
        used = await session.scalars(
            select(Device.address4).where(Device.node_id == node.id, Device.address4.is_not(None))
        )
        foreign = (await foreign_networks(session, node.id))[node.id]
        return {address for address in used if address}, reserved_on(node, foreign)

    # --- addresses given back -------------------------------------------------------------------

    async def readdress(
        self, user_id: int, *, trial: bool = False
    ) -> tuple[list[int], ServiceError | None]:
        """Give each of the user's devices that gave its address back a new one: on its node
        when that node takes devices and has room, else where a new device would go. Returns
        the ids of the devices readdressed (their peers are added by the caller's reconcile),
        and the refusal (NodesFull, TrialsFull, ...) that stopped the rest, if one did."""
        async with self._sessions() as session:
            waiting = (
                await session.scalars(
                    select(Device)
                    .where(Device.user_id == user_id, Device.address4.is_(None))
                    .order_by(Device.id)
                )
            ).all()
        done: list[int] = []
        try:
            for device in waiting:
                node = await self.for_new_device(device.node_id, trial=trial)
                async with self._node_locks.shared(node.id):
                    await self._allocate(node, device, trial=trial)
                done.append(device.id)
        except ServiceError as error:
            log.warning("user %s: a device found no address (%s)", user_id, error.key)
            return done, error
        return done, None

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
        crash cannot lose it. A node's device that gave its address back follows the node
        without one (and is not in the list: it has no peer and no config to send)."""
        query = select(Device).where(Device.node_id != target.id).order_by(Device.id)
        if user_id is not None:
            query = query.where(Device.user_id == user_id)
        if node_id is not None:
            query = query.where(Device.node_id == node_id)
        async with self._sessions.begin() as session:
            used, reserved = await self._lock_addresses(session, target)
            free: Iterator[str] = free_addresses(target.server_address4, used | reserved)
            devices = (await session.scalars(query)).all()
            moved = []
            for device in devices:
                if device.address4 is None and node_id is not None:
                    device.node_id = target.id
                    continue
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
                self._address(device, target, address4)
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
