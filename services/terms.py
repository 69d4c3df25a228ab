"""The offer and the privacy policy: with OFFER_URL and PRIVACY_URL set, a user accepts them
(one tap, recorded with its time) before anything is charged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import User
from services.clock import Clock, system_clock
from services.errors import TermsNotAccepted, UserNotFound


class TermsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        offer_url: str | None = None,
        privacy_url: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self.offer_url = offer_url
        self.privacy_url = privacy_url
        self._clock = clock

    @property
    def required(self) -> bool:
        return self.offer_url is not None and self.privacy_url is not None

    async def accepted(self, user_id: int) -> bool:
        """Whether the user may be charged: they accepted, or nothing needs accepting."""
        if not self.required:
            return True
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        return user is not None and user.terms_accepted_at is not None

    async def require(self, user_id: int) -> None:
        """TermsNotAccepted before any charge of a user who has not accepted."""
        if not await self.accepted(user_id):
            raise TermsNotAccepted()

    async def accept(self, user_id: int) -> datetime:
        """Record the acceptance with its time (the first one stays)."""
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise UserNotFound(user_id=user_id)
            if user.terms_accepted_at is None:
                user.terms_accepted_at = self._clock()
            return user.terms_accepted_at
