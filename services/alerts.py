"""Alerts that go out at most once per period (a node full, the trial cap), across processes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AlertMark
from services.clock import Clock, system_clock
from services.notifier import Notifier

ALERT_PERIOD = timedelta(hours=1)


class AlertGate:
    """Sends an admin alert unless the same one went out less than a period ago; the mark is
    claimed in the database first, so two processes never both send it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.notifier = notifier

    async def once_per_hour(self, mark: str, key: str, **args: str) -> bool:
        """Alert the admins with the text `key`, at most once per hour for `mark`; True when
        this call sent it."""
        if self.notifier is None or not await self.claim(mark, ALERT_PERIOD):
            return False
        await self.notifier.to_admins(key, buttons=None, **args)
        return True

    async def claim(self, mark: str, period: timedelta) -> bool:
        """Take the mark when it was last taken at least `period` ago (or never)."""
        now = self._clock()
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(AlertMark)
                .where(AlertMark.key == mark, AlertMark.sent_at <= now - period)
                .values(sent_at=now)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if await session.get(AlertMark, mark) is not None:
                return False
        try:
            async with self._sessions.begin() as session:
                session.add(AlertMark(key=mark, sent_at=now))
        except IntegrityError:  # another process took it just now
            return False
        return True
