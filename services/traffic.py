"""Monthly traffic limits of plans: a user over the limit is off until the next 30-day period."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AccessKind, Device, User
from services.clock import Clock, system_clock
from services.notify import Notifier
from services.plans import Plan, find_plan
from services.reconcile import ReconcileService

log = logging.getLogger(__name__)

PERIOD = timedelta(days=30)
DEVICE_BYTES = Device.rx_base + Device.rx_seen + Device.tx_base + Device.tx_seen


class TrafficService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        plans: tuple[Plan, ...],
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._plans = plans
        self._clock = clock
        self.notifier = notifier

    async def enforce(self) -> int:
        """Start periods, roll them over, block users over their plan's limit and unblock them
        when a new period starts; counters come from the health probes. Returns the changes."""
        limited = {plan.code: plan for plan in self._plans if plan.traffic_bytes is not None}
        if not limited:
            return 0
        async with self._sessions() as session:
            used_by = (
                select(
                    Device.user_id,
                    func.sum(DEVICE_BYTES),
                )
                .group_by(Device.user_id)
                .subquery()
            )
            rows = (
                await session.execute(
                    select(User.id, func.coalesce(used_by.c[1], 0))
                    .outerjoin(used_by, used_by.c.user_id == User.id)
                    .where(User.access_kind == AccessKind.PAID, User.plan_code.in_(limited))
                )
            ).all()
        changed: list[tuple[int, str | None]] = []
        for user_id, total in rows:
            change = await self._check(user_id, int(total))
            if change is not None:
                changed.append(change)
        for user_id, key in changed:
            await self._reconcile.reconcile_user(user_id)
            if key is not None and self.notifier is not None:
                user = await self._user(user_id)
                until = user.traffic_blocked_until if user else None
                await self.notifier.to_user(user_id, key, until=until)
        return len(changed)

    async def _check(self, user_id: int, total: int) -> tuple[int, str | None] | None:
        """One user's period and block, under a row lock; (user, message key) when changed."""
        async with self._sessions.begin() as session:
            user = await session.get_one(User, user_id, with_for_update=True)
            plan = find_plan(self._plans, user.plan_code)
            if plan is None or plan.traffic_bytes is None:
                return None
            start = user.traffic_period_start
            if start is None:
                user.traffic_period_start, user.traffic_base_bytes = self._clock(), total
                return None
            now = self._clock()
            if now >= start + PERIOD:
                periods = (now - start) // PERIOD
                user.traffic_period_start = start + periods * PERIOD
                user.traffic_base_bytes = total
                if user.traffic_blocked_until is not None:
                    user.traffic_blocked_until = None
                    return user_id, "traffic-restored"
                return None
            if (
                user.traffic_blocked_until is None
                and total - user.traffic_base_bytes >= plan.traffic_bytes
            ):
                user.traffic_blocked_until = start + PERIOD
                return user_id, "traffic-limit-reached"
            return None

    async def _user(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)
