"""Invites: deep links that grant access, one-time or for N people, valid for a week."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Invite, InviteUse, User
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput, ServiceError, UserNotFound
from services.reconcile import ReconcileService
from services.users import MAX_GRANT_DAYS, extend_access

START_PREFIX = "inv_"
INVITE_TTL = timedelta(days=7)
DEFAULT_DAYS = 30
MAX_USES = 1000
CODE_BYTES = 12  # 16 URL-safe characters: "inv_" + code fits Telegram's 64-character start
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class InviteUnknown(ServiceError):
    key = "invite-unknown"


class InviteExpired(ServiceError):
    key = "invite-expired"


class InviteUsedUp(ServiceError):
    key = "invite-used-up"


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The user after an invite; `charged` is False when they already had access."""

    user: User
    charged: bool


class InviteService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._clock = clock

    async def create(self, actor_id: int, days: int, uses: int) -> Invite:
        """A new invite for `days` of access (0: without end) and `uses` people; audited."""
        if not 0 <= days <= MAX_GRANT_DAYS or not 1 <= uses <= MAX_USES:
            raise InvalidInput()
        now = self._clock()
        invite = Invite(
            code=secrets.token_urlsafe(CODE_BYTES),
            days=days,
            max_uses=uses,
            used=0,
            created_by=actor_id,
            created_at=now,
            expires_at=now + INVITE_TTL,
        )
        async with self._sessions.begin() as session:
            session.add(invite)
            details = f"days={days} uses={uses} expires={invite.expires_at:%Y-%m-%d}"
            record(session, self._clock, actor_id, AuditAction.INVITE, "", details)
        return invite

    async def redeem(self, user_id: int, code: str) -> Redeemed:
        """Take one use of the invite and grant its access; refused when unknown, expired or
        used up; a user who already has access keeps it and costs no use."""
        if not CODE_SHAPE.fullmatch(code):
            raise InviteUnknown()
        now = self._clock()
        async with self._sessions.begin() as session:
            invite = await session.scalar(select(Invite).where(Invite.code == code))
            if invite is None:
                raise InviteUnknown()
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise UserNotFound(user_id=user_id)
            if user.has_access(now):
                return Redeemed(user, charged=False)
            if invite.expires_at <= now:
                raise InviteExpired()
            used_before = await session.scalar(
                select(InviteUse.id).where(
                    InviteUse.invite_id == invite.id, InviteUse.user_id == user_id
                )
            )
            taken = await session.execute(
                update(Invite)
                .where(Invite.id == invite.id, Invite.used < Invite.max_uses)
                .values(used=Invite.used + 1)
            )
            if used_before is not None or taken.rowcount != 1:  # type: ignore[attr-defined]
                raise InviteUsedUp()
            session.add(InviteUse(invite_id=invite.id, user_id=user_id, used_at=now))
            extend_access(user, invite.days or None, now)
        await self._reconcile.reconcile_user(user_id)
        return Redeemed(user, charged=True)
