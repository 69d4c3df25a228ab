"""Campaign links (`start=c_NAME`): admins name a campaign, and each user who first came by its
link is counted for it (next to a referral, if the link carries one too)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Campaign, User
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput

NAME_SHAPE = re.compile(r"[a-z0-9_]{1,32}")


class CampaignService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock = system_clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def create(self, actor_id: int, name: str) -> tuple[Campaign, bool]:
        """The campaign of that name, made now (audited, True) or found (False)."""
        name = name.strip().lower()
        if not NAME_SHAPE.fullmatch(name):
            raise InvalidInput()
        found = await self._named(name)
        if found is not None:
            return found, False
        campaign = Campaign(name=name, created_by=actor_id, created_at=self._clock())
        try:
            async with self._sessions.begin() as session:
                session.add(campaign)
                record(session, self._clock, actor_id, AuditAction.CAMPAIGN_NEW, name)
        except IntegrityError:  # another admin made it at the same moment
            made = await self._named(name)
            assert made is not None
            return made, False
        return campaign, True

    async def register(self, user_id: int, name: str) -> bool:
        """Count a new user for the campaign; False for an unknown name or a user counted before."""
        name = name.lower()
        if not NAME_SHAPE.fullmatch(name):
            return False
        async with self._sessions.begin() as session:
            campaign = await session.scalar(select(Campaign).where(Campaign.name == name))
            user = await session.get(User, user_id, with_for_update=True)
            if campaign is None or user is None or user.campaign_id is not None:
                return False
            user.campaign_id = campaign.id
            return True

    async def all(self) -> Sequence[Campaign]:
        async with self._sessions() as session:
            return (await session.scalars(select(Campaign).order_by(Campaign.name))).all()

    async def _named(self, name: str) -> Campaign | None:
        async with self._sessions() as session:
            return await session.scalar(select(Campaign).where(Campaign.name == name))
