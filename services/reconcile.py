"""Keeping every node's peers and grace firewall equal to the database, without restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Device, ForeignPeer, Node, NodeHealth, User, VlessDevice
from nodes import NodeError, NodeTarget, PeerSpec, WireGuard
from nodes.firewall import GracePlan
from nodes.grace_layout import GraceSets
from nodes.reconcile import ReconcilePlan
from nodes.xray import XrayPlan
from services.audit import AuditAction, record
from services.clientconfig import DeviceConfigs
from services.clock import Clock, system_clock
from services.errors import NodeNotFound
from services.grace import Grace, dns_servers
from services.locks import NodeLocks
from services.notifier import Notifier
from services.reclaim import AddressReclaim
from services.targets import target_of

log = logging.getLogger(__name__)

PARALLEL = 8  # nodes reconciled at once in a fleet-wide pass


class VlessUsers(Protocol):
    """The VLESS side of a node (services.vless.VlessService), kept equal to the database with
    its peers."""

    async def reconcile(self, node: Node) -> XrayPlan | None: ...


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    node: str
    plan: ReconcilePlan | None
    error: str | None = None
    grace: GracePlan | None = None
    vless_added: int | None = None  # VLESS users the node's Xray got back (None: no VLESS)
    vless_error: str | None = None  # why the node's Xray could not be brought in line

    @property
    def changed(self) -> bool:
        return self.plan is not None and self.plan.changed

    @property
    def details(self) -> str:
        """What the audit entry says."""
        if self.error is not None or self.plan is None:
            return f"failed: {self.error}"
        plan = self.plan
        text = f"added={len(plan.add)} removed={len(plan.remove)} fixed={len(plan.update)}"
        return text + (f" grace={self.grace.summary()}" if self.grace else "")


@dataclass
class _NodeState:
    """What the database wants on one node."""

    desired: list[PeerSpec] = field(default_factory=list)  # the peers it should serve
    # its devices whose owner has no access now or that gave their address back: removing
    # those is expected, not drift
    inactive: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)  # its foreign peers, which stay as they are
    grace_keys: set[str] = field(default_factory=set)  # peers served in grace
    grace_addresses: list[str] = field(default_factory=list)  # their tunnel addresses


class ReconcileService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        configs: DeviceConfigs,
        node_locks: NodeLocks,
        notifier: Notifier | None = None,
        clock: Clock = system_clock,
        reclaim: AddressReclaim | None = None,
        grace: Grace | None = None,
        vless: VlessUsers | None = None,
    ) -> None:
        self._sessions = sessions
        self._vless = vless
        self._wireguard = wireguard
        self._configs = configs
        self._node_locks = node_locks
        self.notifier = notifier
        self._clock = clock
        self._reclaim = reclaim
        self._grace = grace or Grace(0)

    async def desired_peers(self, node_id: int) -> list[PeerSpec]:
        """Every device the database puts on the node whose owner has access now (not banned,
        not expired, not revoked) or is in grace; the other rows stay, so renewed access
        brings back the same config."""
        return (await self._node_state(node_id)).desired

    async def _node_state(self, node_id: int) -> _NodeState:
        now = self._clock()
        state = _NodeState()
        async with self._sessions() as session:
            rows = await session.execute(
                select(Device, User)
                .join(User, User.id == Device.user_id)
                .where(Device.node_id == node_id)
            )
            for device, user in rows.all():
                if device.address4 is None:
                    state.inactive.add(device.public_key)
                elif user.has_access(now):
                    state.desired.append(self._configs.peer(device))
                elif self._grace.holds(user, now):
                    state.desired.append(self._configs.peer(device))
                    state.grace_keys.add(device.public_key)
                    state.grace_addresses.append(device.address4)
                    if device.address6 is not None:
                        state.grace_addresses.append(device.address6)
                else:
                    state.inactive.add(device.public_key)
            foreign = await session.scalars(
                select(ForeignPeer.public_key).where(ForeignPeer.node_id == node_id)
            )
            state.foreign = set(foreign)
        return state

    async def reconcile(
        self, node: Node, *, report: bool = True, release: Collection[str] = ()
    ) -> ReconcileResult:
        """Make the node's peers, and its Xray's VLESS users when it runs VLESS, equal the
        database (see _reconcile_peers)."""
        result = await self._reconcile_peers(node, report=report, release=release)
        if self._vless is not None and node.xray_port is not None:
            try:
                plan = await self._vless.reconcile(node)
            except NodeError as error:
                log.warning("vless reconcile %s failed: %s", node.name, error.reason)
                return replace(result, vless_error=error.reason)
            if plan is not None:
                return replace(result, vless_added=len(plan.added))
        return result

    async def _reconcile_peers(
        self, node: Node, *, report: bool, release: Collection[str]
    ) -> ReconcileResult:
        """Make the node's peers, then its grace firewall, equal the database, leaving its
        foreign peers (but those in `release`, which go) as they are; tell the admins when the
        node's peers had drifted (a peer whose owner's access ended is removed quietly: that is
        expiry, not drift)."""
        try:
            async with self._node_locks.exclusive(node.id):
                state = await self._node_state(node.id)
                keep = state.foreign - set(release)
                target = target_of(node)
                plan = await self._wireguard.reconcile(target, state.desired, keep)
                grace = await self._limit(node, target, state, keep)
        except NodeError as error:
            log.warning("reconcile %s failed: %s", node.name, error.reason)
            return ReconcileResult(node.name, None, error.reason)
        except Exception as error:  # a bug or the database: still this node alone
            log.exception("reconcile %s crashed", node.name)
            return ReconcileResult(node.name, None, type(error).__name__)
        if plan.changed:
            log.info("reconcile %s: %s", node.name, plan.summary())
            async with self._sessions.begin() as session:
                health = await session.get(NodeHealth, node.id, with_for_update=True)
                if health is None:
                    health = NodeHealth(node_id=node.id, reconcile_changes=0)
                    session.add(health)
                health.reconcile_changes += len(plan.add) + len(plan.remove) + len(plan.update)
            expected = state.inactive | set(release)
            drift_removed = [key for key in plan.remove if key not in expected]
            drifted = plan.add or plan.update or drift_removed
            if report and drifted and self.notifier is not None:
                await self.notifier.to_admins(
                    "admin-reconcile-changed",
                    node=node.name,
                    added=str(len(plan.add)),
                    removed=str(len(drift_removed)),
                    fixed=str(len(plan.update)),
                )
        return ReconcileResult(node.name, plan, grace=grace)

    async def _limit(
        self, node: Node, target: NodeTarget, state: _NodeState, keep: Collection[str]
    ) -> GracePlan:
        """The node's grace firewall limits exactly the addresses in grace. If it cannot, the
        peers in grace go (never full access in grace), and the NodeError is raised."""
        sets = GraceSets.build(
            grace=state.grace_addresses,
            allowed=await self._grace.allowed(),
            dns=dns_servers(node.dns),
        )
        try:
            return await self._wireguard.grace(target, sets)
        except NodeError:
            if state.grace_keys:
                paid = [peer for peer in state.desired if peer.public_key not in state.grace_keys]
                await self._wireguard.reconcile(target, paid, keep)
            raise

    async def reconcile_named(self, name: str, *, actor_id: int | None = None) -> ReconcileResult:
        """Reconcile the node called `name` now: asked by an admin (audited, the admin gets the
        result) or by a new connection to it (drift reported to the admins)."""
        async with self._sessions() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
        if node is None:
            raise NodeNotFound(node=name)
        result = await self.reconcile(node, report=actor_id is None)
        if actor_id is not None:
            async with self._sessions.begin() as session:
                record(session, self._clock, actor_id, AuditAction.RECONCILE, name, result.details)
        return result

    async def reconcile_user(self, user_id: int, also: Iterable[int] = ()) -> list[ReconcileResult]:
        """Apply a change of one user's access now: devices that gave their address back get a
        new one (and the user the new config), then the nodes of their devices and the nodes
        `also` named (where deleted devices were) are reconciled; quietly, the caller reports."""
        if self._reclaim is not None:
            await self._reclaim.restore(user_id)
        async with self._sessions() as session:
            node_ids = set(
                await session.scalars(select(Device.node_id).where(Device.user_id == user_id))
            )
            node_ids.update(
                await session.scalars(
                    select(VlessDevice.node_id).where(VlessDevice.user_id == user_id)
                )
            )
            node_ids.update(also)
            if not node_ids:
                return []
            query = select(Node).where(Node.id.in_(node_ids)).order_by(Node.name)
            nodes = (await session.scalars(query)).all()
        return await self._each(nodes, report=False)

    async def reconcile_all(self) -> list[ReconcileResult]:
        """Every node, a few at once; one that fails fails alone (one log line)."""
        async with self._sessions() as session:
            nodes = (await session.scalars(select(Node).order_by(Node.name))).all()
        return await self._each(nodes, report=True)

    async def _each(self, nodes: Sequence[Node], *, report: bool) -> list[ReconcileResult]:
        gate = asyncio.Semaphore(PARALLEL)

        async def one(node: Node) -> ReconcileResult:
            async with gate:
                return await self.reconcile(node, report=report)

        return list(await asyncio.gather(*(one(node) for node in nodes)))

    async def on_connect(self, target: NodeTarget) -> None:
        """Hooked to the SSH pool: a node that was away is brought back in line at once."""
        with suppress(NodeNotFound):
            await self.reconcile_named(target.name)
