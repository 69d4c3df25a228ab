"""Gifts: a plan paid for someone else becomes a one-time link; the first person who opens it
gets the plan's days, and the buyer is told."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Gift, Payment, User
from services.clock import Clock, system_clock
from services.errors import ServiceError, UserNotFound
from services.notifier import Notifier
from services.reconcile import ReconcileService
from services.users import extend_paid

CODE_BYTES = 12  # 16 URL-safe characters: "gift_" + code fits Telegram's 64-character start
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class GiftUnknown(ServiceError):
    key = "gift-unknown"


class GiftTaken(ServiceError):
    key = "gift-taken"


class GiftOwn(ServiceError):
    """The buyer opened their own gift's link: it is for someone else."""

    key = "gift-own"


@dataclass(frozen=True, slots=True)
class Received:
    """A gift opened: what it gave, and the user who opened it as they are now."""

    gift: Gift
    user: User


def new_gift(payment: Payment, now: datetime) -> Gift:
    """The gift a credited payment bought, with its one-time code."""
    return Gift(
        code=secrets.token_urlsafe(CODE_BYTES),
        payment_id=payment.id,
        buyer_id=payment.user_id,
        plan_code=payment.plan_code,
        days=payment.days,
        created_at=now,
    )


async def cancel_gift(session: AsyncSession, payment_id: int, now: datetime) -> Gift | None:
    """In a refund's transaction: the gift its payment bought stops working (an unopened link
    is refused from now on)."""
    gift = await session.scalar(select(Gift).where(Gift.payment_id == payment_id))
    if gift is not None and gift.canceled_at is None:
        gift.canceled_at = now
    return gift


class GiftService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._clock = clock
        self.notifier = notifier

    async def redeem(self, user_id: int, code: str) -> Received:
        """Give the gift's days to the first user who opens its link (a conditional update
        decides a race), then tell the buyer."""
        if not CODE_SHAPE.fullmatch(code):
            raise GiftUnknown()
        now = self._clock()
        async with self._sessions.begin() as session:
            gift = await session.scalar(select(Gift).where(Gift.code == code))
            if gift is None or gift.canceled_at is not None:
                raise GiftUnknown()
            if gift.buyer_id == user_id:
                raise GiftOwn()
            claimed = await session.execute(
                update(Gift)
                .where(Gift.id == gift.id, Gift.redeemed_at.is_(None), Gift.canceled_at.is_(None))
                .values(redeemed_at=now, redeemed_by=user_id)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise GiftTaken()
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise UserNotFound(user_id=user_id)
            extend_paid(user, gift.days, gift.plan_code, now)
        await self._reconcile.reconcile_user(user_id)
        if self.notifier is not None:
            await self.notifier.to_user(
                gift.buyer_id, "gift-redeemed", name=user.display_name, days=str(gift.days)
            )
        return Received(gift, user)
