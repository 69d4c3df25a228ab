"""Reminders 3 days and 1 day before access ends and at its end, each sent once; expiry and the
end of grace applied."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Reminder, User
from services.clock import Clock, system_clock
from services.grace import Grace
from services.notifier import Notifier
from services.reconcile import ReconcileService

log = logging.getLogger(__name__)

BEFORE = (("1d", timedelta(days=1)), ("3d", timedelta(days=3)))
EXPIRED = "expired"
GRACE_END = "grace-end"  # recorded, never sent: the user's devices leave the nodes
EXPIRED_LOOKBACK = timedelta(days=2)  # older ends are not announced (e.g. on a first deploy)


@dataclass(frozen=True, slots=True)
class ReminderRun:
    sent: int
    expired: int
    grace_ended: int = 0


class ReminderService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
        grace: Grace | None = None,
        stars: bool = False,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._clock = clock
        self.notifier = notifier
        self._grace = grace or Grace(0)
        self._stars = stars  # Stars are sold: paying inside Telegram works in grace

    async def run(self) -> ReminderRun:
        """Everything due now, derived from the database: a missed or repeated run neither
        loses nor doubles a reminder, because each is recorded before it is sent."""
        now = self._clock()
        async with self._sessions() as session:
            query = (
                select(User)
                .where(User.access_kind != AccessKind.NONE, User.banned.is_(False))
                .where(User.access_until.is_not(None))
                .where(User.access_until > now - EXPIRED_LOOKBACK - self._grace.period)
                .where(User.access_until <= now + BEFORE[-1][1])
                .order_by(User.id)
            )
            users = (await session.scalars(query)).all()
            recorded = await session.execute(
                select(Reminder.user_id, Reminder.kind, Reminder.period_end).where(
                    Reminder.user_id.in_([user.id for user in users])
                )
            )
            done = {tuple(row) for row in recorded}
        sent = expired = grace_ended = 0
        for user in users:
            assert user.access_until is not None
            for kind in self._due_kinds(user.access_until, now):
                if (user.id, kind, user.access_until) in done:
                    continue  # sent on an earlier run: no write needed to find that out
                if not await self._claim(user.id, kind, user.access_until):
                    continue
                if kind in (EXPIRED, GRACE_END):
                    await self._reconcile.reconcile_user(user.id)
                if kind == GRACE_END:
                    grace_ended += 1
                    continue
                if kind == EXPIRED:
                    expired += 1
                if await self._send(user, kind, now):
                    sent += 1
        return ReminderRun(sent, expired, grace_ended)

    def _due_kinds(self, until: datetime, now: datetime) -> list[str]:
        """What is due for access that ends at `until`: a reminder before it; at its end the
        expiry (announced only within EXPIRED_LOOKBACK); at the end of its grace, that."""
        if until > now:
            return [next(kind for kind, before in BEFORE if until - now <= before)]
        kinds = [EXPIRED] if until > now - EXPIRED_LOOKBACK else []
        if self._grace.days and until + self._grace.period <= now:
            kinds.append(GRACE_END)
        return kinds

    async def _claim(self, user_id: int, kind: str, period_end: datetime) -> bool:
        """Record the reminder; False when it was recorded before (sent once, never twice)."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    Reminder(
                        user_id=user_id, kind=kind, period_end=period_end, sent_at=self._clock()
                    )
                )
        except IntegrityError:
            return False
        return True

    async def _send(self, user: User, kind: str, now: datetime) -> bool:
        if self.notifier is None or user.bot_blocked_at is not None:
            return False
        key = f"reminder-{kind}"
        if kind != EXPIRED and user.auto_renew and user.payment_method_enc:
            key += "-auto"
        if kind == EXPIRED and self._grace.holds(user, now):
            return await self.notifier.to_user(
                user.id,
                "reminder-expired-grace",
                button="renew",
                until=user.access_until,
                grace_until=self._grace.until(user),
                stars="yes" if self._stars else "no",
            )
        return await self.notifier.to_user(user.id, key, button="renew", until=user.access_until)
