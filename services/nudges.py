"""Nudges, each sent once per user and period: set-up help when a first config has not
connected within NUDGE_SETUP_HOURS, "is something wrong?" when a paying user's devices have been
silent for NUDGE_SILENT_DAYS, and one offer NUDGE_TRIAL_HOURS after a trial ended unpaid."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Device, Nudge, User
from services.clock import Clock, system_clock
from services.notifier import Notifier

log = logging.getLogger(__name__)

SETUP = "setup"  # access open, a config sent, no handshake from any device yet
SILENT = "silent"  # paid access, and no device has made a handshake for a while
OFFER = "offer"  # a trial ended and nothing was paid
LOOKBACK = timedelta(days=7)  # causes older than their delay and this are never nudged (a
# first deploy does not write to everyone who once went quiet)


@dataclass(frozen=True, slots=True)
class Due:
    """A nudge due to a user, about what began at `period`."""

    user_id: int
    kind: str
    period: datetime


@dataclass(frozen=True, slots=True)
class NudgeDelays:
    """How long after its cause each nudge goes out; None turns that nudge off."""

    setup: timedelta | None
    silent: timedelta | None
    trial_offer: timedelta | None  # also off when no payment method is on


class NudgeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        delays: NudgeDelays,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._delays = delays
        self._clock = clock
        self.notifier = notifier

    async def run(self) -> int:
        """Send every nudge due now, derived from the database; how many went out. Each is
        recorded before it is sent, so a restart or a repeated run neither loses nor doubles
        one."""
        now = self._clock()
        async with self._sessions() as session:
            due = await self._due(session, now)
            recorded = await session.execute(
                select(Nudge.user_id, Nudge.kind, Nudge.period).where(
                    Nudge.user_id.in_({item.user_id for item in due})
                )
            )
            done = {tuple(row) for row in recorded}
        sent = 0
        for item in due:
            if (item.user_id, item.kind, item.period) in done or not await self._claim(item):
                continue
            if self.notifier is not None and await self.notifier.to_user(
                item.user_id, f"nudge-{item.kind}", button=item.kind
            ):
                sent += 1
        return sent

    async def _due(self, session: AsyncSession, now: datetime) -> list[Due]:
        due: list[Due] = []
        setup, silent, trial = self._delays.setup, self._delays.silent, self._delays.trial_offer
        if setup is not None:
            first = func.min(Device.created_at)
            configs = (
                select(Device.user_id, first.label("at"))
                .group_by(Device.user_id)
                .having(func.count(Device.last_handshake_at) == 0)
            )
            due += await _found(session, SETUP, configs, _running(now), now - setup)
        if silent is not None:
            last = func.max(Device.last_handshake_at)
            handshakes = select(Device.user_id, last.label("at")).group_by(Device.user_id)
            paid = and_(User.access_kind == AccessKind.PAID, _running(now))
            due += await _found(session, SILENT, handshakes, paid, now - silent)
        if trial is not None:
            ended = select(User.id.label("user_id"), User.access_until.label("at")).where(
                User.access_kind == AccessKind.TRIAL, User.access_until.is_not(None)
            )
            due += await _found(session, OFFER, ended, true(), now - trial)
        return due

    async def _claim(self, item: Due) -> bool:
        """Record the nudge; False when it was recorded before (sent once, never twice)."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    Nudge(
                        user_id=item.user_id,
                        kind=item.kind,
                        period=item.period,
                        sent_at=self._clock(),
                    )
                )
        except IntegrityError:
            return False
        return True


def _running(now: datetime) -> ColumnElement[bool]:
    """Access granted and not over."""
    return and_(
        User.access_kind != AccessKind.NONE,
        or_(User.access_until.is_(None), User.access_until > now),
    )


async def _found(
    session: AsyncSession,
    kind: str,
    causes: Select[int, datetime | None],
    who: ColumnElement[bool],
    until: datetime,
) -> list[Due]:
    """Users matching `who` whose cause (`causes`: user id, moment) came at `until` or before,
    and not long before (LOOKBACK); users who banned or blocked the bot are left out."""
    cause = causes.subquery()
    rows = await session.execute(
        select(User.id, cause.c.at)
        .join(cause, cause.c.user_id == User.id)
        .where(who, User.banned.is_(False), User.bot_blocked_at.is_(None))
        .where(cause.c.at <= until, cause.c.at > until - LOOKBACK)
        .order_by(User.id)
    )
    return [Due(user_id, kind, at) for user_id, at in rows.all()]
