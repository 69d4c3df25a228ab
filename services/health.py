"""Node health: a probe per node stored in the database, alerts after repeated failures,
one "recovered" message, and per-device traffic kept across node restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Device, Node, NodeHealth, traffic_bases
from nodes import NodeError, WireGuard
from nodes.errors import HostKeyChanged
from nodes.probe import Probe
from services.clock import Clock, system_clock
from services.hostkeys import HostKeyService
from services.notifier import Notifier
from services.targets import target_of

log = logging.getLogger(__name__)


BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class LastProbe:
    """What the screens may say about a node's devices: whether its latest probe answered, and
    when the devices' handshakes and traffic were last read from it (None: not yet)."""

    answered: bool
    read_at: datetime | None


async def last_probes(session: AsyncSession, node_ids: Iterable[int]) -> dict[int, LastProbe]:
    """The latest probe of each node, by id; a node never probed yet answered, read at None."""
    wanted = set(node_ids)
    found = {
        health.node_id: health
        for health in await session.scalars(
            select(NodeHealth).where(NodeHealth.node_id.in_(wanted))
        )
    }
    probes = {}
    for node_id in wanted:
        health = found.get(node_id)
        if health is None or health.checked_at is None:
            probes[node_id] = LastProbe(True, None)
        else:
            answered = health.error is None
            probes[node_id] = LastProbe(answered, health.checked_at if answered else None)
    return probes


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    node: str
    checked_at: datetime
    probe: Probe | None
    error: str | None
    host_key_changed: bool = False


class HealthService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        failures_before_alert: int,
        host_keys: HostKeyService,
        notifier: Notifier | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._host_keys = host_keys
        self._failures_before_alert = failures_before_alert
        self.notifier = notifier
        self._clock = clock

    async def probe_all(self) -> list[ProbeOutcome]:
        """Probe every node at once, store the results, raise or clear alerts. A node that
        fails, however oddly, fails alone: one log line, and the others go on."""
        async with self._sessions() as session:
            nodes = (await session.scalars(select(Node).order_by(Node.name))).all()
        outcomes = await asyncio.gather(*(self._probe(node) for node in nodes))
        for node, outcome in zip(nodes, outcomes, strict=True):
            try:
                await self._record(node, outcome)
            except Exception:
                log.exception("node %s: the probe's result was not stored", node.name)
        return list(outcomes)

    async def _probe(self, node: Node) -> ProbeOutcome:
        try:
            result = await self._wireguard.probe(target_of(node))
        except HostKeyChanged as error:
            log.warning("probe %s failed: %s", node.name, error.reason)
            try:
                await self._host_keys.offered(node.name, error.offered)
            except Exception:
                log.exception("node %s: the offered host key was not stored", node.name)
            return ProbeOutcome(node.name, self._clock(), None, error.reason, True)
        except NodeError as error:
            log.warning("probe %s failed: %s", node.name, error.reason)
            return ProbeOutcome(node.name, self._clock(), None, error.reason)
        except Exception as error:  # a bug, never the node's output: still this node alone
            log.exception("probe %s crashed", node.name)
            return ProbeOutcome(node.name, self._clock(), None, type(error).__name__)
        return ProbeOutcome(node.name, self._clock(), result, None)

    async def _record(self, node: Node, outcome: ProbeOutcome) -> None:
        now = outcome.checked_at
        healthy = outcome.probe is not None and outcome.probe.interface_up
        error = outcome.error or (None if healthy else "WireGuard interface is down")
        async with self._sessions.begin() as session:
            health = await session.get(NodeHealth, node.id, with_for_update=True)
            if health is None:
                health = NodeHealth(node_id=node.id, failures=0, alerted=False, reconcile_changes=0)
                session.add(health)
            health.checked_at = now
            health.error = error[:300] if error else None
            if outcome.probe is not None:
                _store_probe(health, outcome.probe, now)
                await _count_traffic(session, node.id, outcome.probe)
            health.failures = 0 if healthy else health.failures + 1
            # a changed host key is refused at once: the node is not managed until accepted
            health.up = not outcome.host_key_changed and (
                healthy or health.failures < self._failures_before_alert
            )
            alert = not health.up and not health.alerted
            recovered = healthy and health.alerted
            health.alerted = (health.alerted or alert) and not recovered
        self._wireguard.set_down(node.name, None if health.up else error)
        if self.notifier is None or (alert and outcome.host_key_changed):
            return  # the host key alert (HostKeyService) already told the admins
        if alert:
            await self.notifier.to_admins(
                "admin-node-down",
                node=node.name,
                failures=str(health.failures),
                reason=error or "?",
            )
        elif recovered:
            await self.notifier.to_admins("admin-node-recovered", node=node.name)


def _store_probe(health: NodeHealth, result: Probe, now: datetime) -> None:
    health.interface_up = result.interface_up
    health.load1 = result.load1
    health.cpus = result.cpus
    health.mem_total_bytes = result.mem_total_bytes
    health.mem_available_bytes = result.mem_available_bytes
    health.peers = len(result.peers)
    health.recent_handshakes = result.recent_handshakes(now)
    health.rx_bytes = min(result.rx_bytes, BIGINT_MAX)
    health.tx_bytes = min(result.tx_bytes, BIGINT_MAX)
    health.latency_seconds = result.latency_seconds


async def _count_traffic(session: AsyncSession, node_id: int, result: Probe) -> None:
    """Each device's counters and last handshake from the probe, written only where they
    changed, in one statement per pass: a node of 10,000 mostly idle peers costs a read."""
    peers = {peer.public_key: peer for peer in result.peers}
    rows = await session.execute(
        select(
            Device.id,
            Device.public_key,
            Device.rx_base,
            Device.tx_base,
            Device.rx_seen,
            Device.tx_seen,
            Device.last_handshake_at,
        ).where(Device.node_id == node_id)
    )
    changed = []
    for device_id, key, rx_base, tx_base, rx_seen, tx_seen, seen_at in rows:
        peer = peers.get(key)
        if peer is None:
            continue
        handshake = peer.latest_handshake or seen_at
        if (peer.rx_bytes, peer.tx_bytes, handshake) == (rx_seen, tx_seen, seen_at):
            continue
        counters = (peer.rx_bytes, peer.tx_bytes)
        rx_base, tx_base = traffic_bases((rx_base, tx_base), (rx_seen, tx_seen), counters)
        changed.append(
            {
                "id": device_id,
                "rx_base": rx_base,
                "tx_base": tx_base,
                "rx_seen": peer.rx_bytes,
                "tx_seen": peer.tx_bytes,
                "last_handshake_at": handshake,
            }
        )
    if changed:
        await session.execute(update(Device), changed)
