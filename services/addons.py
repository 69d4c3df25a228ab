"""Add-ons on top of a paid plan: more device slots and more traffic per 30 days, each lasting
until the end of the plan's period it was bought in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Addon, Payment, Purpose, User

MAX_EXTRA_DEVICES = 10


async def extra_devices(session: AsyncSession, user_id: int, now: datetime) -> int:
    """Device slots the user's add-ons give now."""
    query = select(func.coalesce(func.sum(Addon.amount), 0)).where(
        Addon.user_id == user_id, Addon.kind == Purpose.DEVICE, Addon.until > now
    )
    return int(await session.scalar(query) or 0)


async def extra_traffic(
    session: AsyncSession, user_ids: Iterable[int], now: datetime
) -> dict[int, int]:
    """GB per 30 days the users' add-ons give now (users without any are left out)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Addon.user_id, func.sum(Addon.amount))
        .where(Addon.user_id.in_(ids), Addon.kind == Purpose.TRAFFIC, Addon.until > now)
        .group_by(Addon.user_id)
    )
    return {user_id: int(total) for user_id, total in rows.all()}


def new_addon(payment: Payment, user: User, amount: int, now: datetime) -> Addon:
    """The add-on a credited payment bought: for the days it was priced for, never past the
    end of the access the user has now."""
    until = now + timedelta(days=payment.days)
    if user.access_running(now) and user.access_until is not None:
        until = min(until, user.access_until)
    return Addon(
        user_id=user.id,
        payment_id=payment.id,
        kind=payment.purpose,
        amount=amount,
        until=until,
        created_at=now,
    )
