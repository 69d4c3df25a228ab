"""Numbers for the admins' /stats: users, access by kind, money, campaigns, nodes' peers, traffic
and handshakes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    AccessKind,
    Campaign,
    Device,
    Node,
    NodeHealth,
    NodeStatus,
    Payment,
    PaymentStatus,
    User,
)
from services.clock import Clock, system_clock

CHART_DAYS = 30
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class NodeStats:
    name: str
    status: NodeStatus
    up: bool | None  # None: never probed
    peers: int | None  # peers on the node at the last probe
    devices: int
    received: int  # bytes the node received from its devices, across node restarts
    sent: int
    handshakes_day: int  # devices with a handshake in the last 24 hours


@dataclass(frozen=True, slots=True)
class CampaignStats:
    """Who came by a campaign's link: registered, took a trial, paid (first payments), and the
    money they paid, per currency."""

    name: str
    registrations: int
    trials: int
    payers: int
    revenue: dict[str, int]


@dataclass(frozen=True, slots=True)
class Stats:
    now: datetime
    users_total: int
    users_new_week: int
    access_now: dict[AccessKind, int]  # kinds with at least one user, in AccessKind order
    handshakes_day: int
    nodes: list[NodeStats]
    new_per_day: list[tuple[date, int]]  # the last CHART_DAYS days, oldest first, today last
    revenue_month: dict[str, int] = field(default_factory=dict)  # currency -> kopecks or stars
    payers_month: int = 0
    trials_total: int = 0
    trials_converted: int = 0  # of the users who took a trial, those who paid later
    campaigns: list[CampaignStats] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Totals:
    """What the metrics export from the database: payments by (provider, state), trials."""

    payments: dict[tuple[str, str], int]
    trials: int


class StatsService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock = system_clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def collect(self) -> Stats:
        now = self._clock()
        day_ago = now - DAY
        first_day = now.date() - timedelta(days=CHART_DAYS - 1)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(User)) or 0
            new_week = (
                await session.scalar(
                    select(func.count()).select_from(User).where(User.created_at > now - WEEK)
                )
                or 0
            )
            by_kind = dict(
                (
                    await session.execute(
                        select(User.access_kind, func.count())
                        .where(
                            User.access_kind != AccessKind.NONE,
                            or_(User.access_until.is_(None), User.access_until > now),
                        )
                        .group_by(User.access_kind)
                    )
                ).all()
            )
            created = (
                await session.scalars(
                    select(User.created_at).where(User.created_at >= _midnight(first_day, now))
                )
            ).all()
            nodes = await self._nodes(session, day_ago)
            money = await self._money(session, now - MONTH)
            campaigns = await self._campaigns(session)
        per_day = Counter(moment.date() for moment in created)
        return Stats(
            now=now,
            users_total=total,
            users_new_week=new_week,
            access_now={kind: by_kind[kind] for kind in AccessKind if by_kind.get(kind)},
            handshakes_day=sum(node.handshakes_day for node in nodes),
            nodes=nodes,
            new_per_day=[
                (day, per_day.get(day, 0))
                for day in (first_day + timedelta(days=n) for n in range(CHART_DAYS))
            ],
            campaigns=campaigns,
            **money,
        )

    @staticmethod
    async def _campaigns(session: AsyncSession) -> list[CampaignStats]:
        """Every campaign, by name, with its people and money of all time."""
        trial = func.sum(case((User.trial_used_at.is_not(None), 1), else_=0))
        people = (
            await session.execute(
                select(Campaign.id, Campaign.name, func.count(User.id), func.coalesce(trial, 0))
                .outerjoin(User, User.campaign_id == Campaign.id)
                .group_by(Campaign.id, Campaign.name)
                .order_by(Campaign.name)
            )
        ).all()
        paid = (Payment.status == PaymentStatus.SUCCEEDED) & User.campaign_id.is_not(None)
        payers = dict(
            (
                await session.execute(
                    select(User.campaign_id, func.count(func.distinct(Payment.user_id)))
                    .join(User, User.id == Payment.user_id)
                    .where(paid)
                    .group_by(User.campaign_id)
                )
            ).all()
        )
        revenue: dict[int, dict[str, int]] = {}
        for campaign_id, currency, total in (
            await session.execute(
                select(User.campaign_id, Payment.currency, func.sum(Payment.amount))
                .join(User, User.id == Payment.user_id)
                .where(paid)
                .group_by(User.campaign_id, Payment.currency)
            )
        ).all():
            if campaign_id is not None:
                revenue.setdefault(campaign_id, {})[currency] = int(total)
        return [
            CampaignStats(
                name, int(count), int(trials), int(payers.get(id_, 0)), revenue.get(id_, {})
            )
            for id_, name, count, trials in people
        ]

    async def totals(self) -> Totals:
        """Payments by provider and state, and the users who took a trial: two counts."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Payment.provider, Payment.status, func.count()).group_by(
                    Payment.provider, Payment.status
                )
            )
            payments = {(provider, str(status)): count for provider, status, count in rows}
            trials = await session.scalar(
                select(func.count()).select_from(User).where(User.trial_used_at.is_not(None))
            )
        return Totals(payments, trials or 0)

    async def _money(self, session: AsyncSession, since: datetime) -> dict[str, Any]:
        """Money of the last 30 days, and how many trial users went on to pay."""
        paid = (Payment.status == PaymentStatus.SUCCEEDED) & (Payment.credited_at > since)
        revenue = dict(
            (
                await session.execute(
                    select(Payment.currency, func.sum(Payment.amount))
                    .where(paid)
                    .group_by(Payment.currency)
                )
            ).all()
        )
        payers = await session.scalar(
            select(func.count(func.distinct(Payment.user_id))).where(paid)
        )
        trials = await session.scalar(
            select(func.count()).select_from(User).where(User.trial_used_at.is_not(None))
        )
        converted = await session.scalar(
            select(func.count(func.distinct(Payment.user_id)))
            .join(User, User.id == Payment.user_id)
            .where(User.trial_used_at.is_not(None), Payment.status == PaymentStatus.SUCCEEDED)
        )
        return {
            "revenue_month": {currency: int(total) for currency, total in revenue.items()},
            "payers_month": payers or 0,
            "trials_total": trials or 0,
            "trials_converted": converted or 0,
        }

    async def _nodes(self, session: AsyncSession, day_ago: datetime) -> list[NodeStats]:
        recent = func.sum(case((Device.last_handshake_at > day_ago, 1), else_=0))
        device_rows = (
            await session.execute(
                select(
                    Device.node_id,
                    func.count(),
                    func.coalesce(func.sum(Device.rx_base + Device.rx_seen), 0),
                    func.coalesce(func.sum(Device.tx_base + Device.tx_seen), 0),
                    func.coalesce(recent, 0),
                ).group_by(Device.node_id)
            )
        ).all()
        per_node = {row[0]: row[1:] for row in device_rows}
        rows = (
            await session.execute(
                select(Node, NodeHealth)
                .outerjoin(NodeHealth, NodeHealth.node_id == Node.id)
                .order_by(Node.name)
            )
        ).all()
        result = []
        for node, health in rows:
            devices, received, sent, handshakes = per_node.get(node.id, (0, 0, 0, 0))
            probed = health is not None and health.checked_at is not None
            result.append(
                NodeStats(
                    name=node.name,
                    status=node.status,
                    up=health.up if probed else None,
                    peers=health.peers if probed else None,
                    devices=int(devices),
                    received=int(received),
                    sent=int(sent),
                    handshakes_day=int(handshakes),
                )
            )
        return result


def _midnight(day: date, like: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=like.tzinfo)
