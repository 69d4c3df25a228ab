"""Monthly traffic limits of plans: a user over the limit is off until the next 30-day period.
A user's total is the bytes of their devices plus those of devices they removed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Device, User, VlessDevice
from services.addons import extra_traffic
from services.clock import Clock, system_clock
from services.notifier import Notifier
from services.plans import Plan, find_plan
from services.reconcile import ReconcileService

log = logging.getLogger(__name__)

PERIOD = timedelta(days=30)
GIB = 1024**3
DEVICE_BYTES = Device.rx_base + Device.rx_seen + Device.tx_base + Device.tx_seen  # total_bytes
VLESS_BYTES = VlessDevice.uplink_bytes + VlessDevice.downlink_bytes


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
        """Start periods, roll them over, block users over their plan's limit (with the traffic
        their add-ons give) and unblock them when a new period starts or an add-on makes room;
        counters come from the health probes. Only users whose state changes are written (under
        a row lock). Returns the blocks and unblocks."""
        limited = {plan.code: plan for plan in self._plans if plan.traffic_bytes is not None}
        if not limited:
            return 0
        now = self._clock()
        async with self._sessions() as session:
            each = union_all(
                select(Device.user_id.label("user_id"), DEVICE_BYTES.label("bytes")),
                select(VlessDevice.user_id.label("user_id"), VLESS_BYTES.label("bytes")),
            ).subquery()
            used_by = (
                select(each.c.user_id, func.sum(each.c.bytes).label("total"))
                .group_by(each.c.user_id)
                .subquery()
            )
            rows = (
                await session.execute(
                    select(User, func.coalesce(used_by.c.total, 0))
                    .outerjoin(used_by, used_by.c.user_id == User.id)
                    .where(User.access_kind == AccessKind.PAID, User.plan_code.in_(limited))
                )
            ).all()
            extra = await extra_traffic(session, (user.id for user, _ in rows), now)
        changed: list[tuple[int, str]] = []
        for user, on_devices in rows:
            total = user.traffic_removed_bytes + int(on_devices)
            limit = _limit(limited[user.plan_code], extra.get(user.id, 0))
            if next_state(user, limit, total, now) is None:
                continue
            key = await self._apply(user.id, int(on_devices), now)
            if key is not None:
                changed.append((user.id, key))
        for user_id, key in changed:
            await self._reconcile.reconcile_user(user_id)
            if self.notifier is not None:
                stored = await self._user(user_id)
                until = stored.traffic_blocked_until if stored else None
                await self.notifier.to_user(user_id, key, until=until)
        return len(changed)

    async def _apply(self, user_id: int, on_devices: int, now: datetime) -> str | None:
        """Write the user's next state, read again under a row lock; the message key if any."""
        async with self._sessions.begin() as session:
            user = await session.get_one(User, user_id, with_for_update=True)
            total = user.traffic_removed_bytes + on_devices
            plan = find_plan(self._plans, user.plan_code)
            extra = (await extra_traffic(session, [user_id], now)).get(user_id, 0)
            state = None if plan is None else next_state(user, _limit(plan, extra), total, now)
            if state is None:
                return None
            user.traffic_period_start = state.period_start
            user.traffic_base_bytes = state.base_bytes
            user.traffic_blocked_until = state.blocked_until
            return state.message

    async def _user(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)


def count_removed(user: User, devices: Iterable[Device | VlessDevice]) -> None:
    """Keep the bytes of devices about to be deleted in their owner's total, so removing a
    device and adding another never resets the traffic of a period."""
    user.traffic_removed_bytes += sum(device.total_bytes for device in devices)


@dataclass(frozen=True, slots=True)
class TrafficState:
    """A user's traffic period after this pass, and what to tell them (None: nothing)."""

    period_start: datetime
    base_bytes: int
    blocked_until: datetime | None
    message: str | None


def _limit(plan: Plan, extra_gb: int) -> int | None:
    """Bytes per period: the plan's, and what add-ons give on top."""
    return None if plan.traffic_bytes is None else plan.traffic_bytes + extra_gb * GIB


def next_state(user: User, limit: int | None, total: int, now: datetime) -> TrafficState | None:
    """What changes for a user with `total` bytes on their devices now, given the period's
    limit in bytes (None: no limit); None when nothing."""
    start, blocked = user.traffic_period_start, user.traffic_blocked_until
    if start is None:
        return TrafficState(now, total, None, None)
    if now >= start + PERIOD:
        new_start = start + ((now - start) // PERIOD) * PERIOD
        return TrafficState(new_start, total, None, "traffic-restored" if blocked else None)
    if blocked is None and limit is not None and total - user.traffic_base_bytes >= limit:
        return TrafficState(start, user.traffic_base_bytes, start + PERIOD, "traffic-limit-reached")
    return None
