"""Promo codes: admins make them (a discount on plans, or free days; for how many people; until
when), each user takes one once; a discount is held by the first open order it priced, released
when that order is canceled, and spent by the payment credited with it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Payment, PaymentStatus, PromoCode, PromoKind, PromoRedemption, User
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput, ServiceError, UserNotFound
from services.plans import Plan
from services.reconcile import ReconcileService
from services.users import add_free_days

CODE_SHAPE = re.compile(r"[A-Z0-9_]{3,32}")
MAX_USES = 100_000
BOUNDS = {PromoKind.PERCENT: 99, PromoKind.FIXED: 1_000_000, PromoKind.DAYS: 365}
MAX_VALIDITY = timedelta(days=3650)
DISCOUNTS = (PromoKind.PERCENT, PromoKind.FIXED)


class PromoUnknown(ServiceError):
    key = "promo-unknown"


class PromoExpired(ServiceError):
    key = "promo-expired"


class PromoUsedUp(ServiceError):
    key = "promo-used-up"


class PromoAlreadyUsed(ServiceError):
    key = "promo-already-used"


class PromoHeld(ServiceError):
    """The discount waits in another open order of the user: pay that one, or wait until it is
    canceled."""

    key = "promo-held"


class PromoExists(ServiceError):
    key = "promo-exists"


class PromoPlanUnknown(ServiceError):
    key = "promo-plan-unknown"


class PromoDateRefused(ServiceError):
    """A code's last day that is past, or more than ten years away."""

    key = "promo-date"


class PromoTooBig(ServiceError):
    """A fixed discount as large as a plan's price it applies to."""

    key = "promo-too-big"


@dataclass(frozen=True, slots=True)
class PromoSpec:
    """A new code as an admin typed it; `valid_until` is the first moment it no longer works."""

    code: str
    kind: PromoKind
    value: int
    uses: int
    valid_until: datetime
    plans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Discount:
    """A user's discount now: which code, how much, on which plans (empty: every plan), and
    the open order that holds it, if one does."""

    promo_id: int
    code: str
    kind: PromoKind
    value: int
    plans: frozenset[str]
    held_by: int | None = None

    def applies_to(self, plan_code: str) -> bool:
        return not self.plans or plan_code in self.plans


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A code taken: the discount it gives, or (free days) the user's access end after them."""

    promo: PromoCode
    access_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PromoStats:
    """A code with the payments it priced and the money they brought, per currency."""

    promo: PromoCode
    payments: int = 0
    revenue: dict[str, int] = field(default_factory=dict)


class PromoService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        plans: Callable[[], tuple[Plan, ...]],
        reconcile: ReconcileService,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._plans = plans
        self._reconcile = reconcile
        self._clock = clock

    async def create(self, actor_id: int, spec: PromoSpec) -> PromoCode:
        """A new code, checked against the plans sold now; audited with the actor."""
        self._check(spec)
        promo = PromoCode(
            code=spec.code,
            kind=spec.kind,
            value=spec.value,
            plans=",".join(spec.plans),
            max_uses=spec.uses,
            used=0,
            valid_until=spec.valid_until,
            created_by=actor_id,
            created_at=self._clock(),
        )
        details = (
            f"{spec.kind.value}={spec.value} uses={spec.uses} "
            f"until={spec.valid_until:%Y-%m-%d} plans={promo.plans or '*'}"
        )
        try:
            async with self._sessions.begin() as session:
                session.add(promo)
                record(session, self._clock, actor_id, AuditAction.PROMO_NEW, spec.code, details)
        except IntegrityError:
            raise PromoExists(code=spec.code) from None
        return promo

    def _check(self, spec: PromoSpec) -> None:
        now = self._clock()
        if not CODE_SHAPE.fullmatch(spec.code) or not 1 <= spec.uses <= MAX_USES:
            raise InvalidInput()
        if not 0 < spec.value <= BOUNDS[spec.kind]:
            raise InvalidInput()
        if not now < spec.valid_until <= now + MAX_VALIDITY:
            raise PromoDateRefused()
        if spec.kind is PromoKind.DAYS and spec.plans:
            raise InvalidInput()  # free days are no discount on a plan
        sold = {plan.code: plan for plan in self._plans()}
        for code in spec.plans:
            if code not in sold:
                raise PromoPlanUnknown(plan=code)
        if spec.kind is PromoKind.FIXED:
            covered = [sold[code] for code in spec.plans] or list(sold.values())
            cheapest = min(plan.rub for plan in covered)
            if spec.value >= cheapest:
                raise PromoTooBig(rub=cheapest)

    async def redeem(self, user_id: int, code: str) -> Redeemed:
        """Take one use of a code, once per user: free days are given now, a discount waits for
        the user's next payment. Exact under any concurrency: the use is a conditional update
        and the (code, user) pair is unique."""
        code = code.strip().upper()
        if not CODE_SHAPE.fullmatch(code):
            raise PromoUnknown()
        now = self._clock()
        try:
            async with self._sessions.begin() as session:
                promo = await session.scalar(select(PromoCode).where(PromoCode.code == code))
                if promo is None:
                    raise PromoUnknown()
                if promo.valid_until <= now:
                    raise PromoExpired()
                if await self._used_by(session, promo.id, user_id):
                    raise PromoAlreadyUsed()
                taken = await session.execute(
                    update(PromoCode)
                    .where(PromoCode.id == promo.id, PromoCode.used < PromoCode.max_uses)
                    .values(used=PromoCode.used + 1)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise PromoUsedUp()
                session.add(PromoRedemption(promo_id=promo.id, user_id=user_id, redeemed_at=now))
                until = None
                if promo.kind is PromoKind.DAYS:
                    user = await session.get(User, user_id, with_for_update=True)
                    if user is None:
                        raise UserNotFound(user_id=user_id)
                    add_free_days(user, promo.value, now)
                    until = user.access_until
                await session.flush()  # a second tap of the same user's fails here
        except IntegrityError:
            raise PromoAlreadyUsed() from None
        if promo.kind is PromoKind.DAYS:
            await self._reconcile.reconcile_user(user_id)
        return Redeemed(promo, until)

    @staticmethod
    async def _used_by(session: AsyncSession, promo_id: int, user_id: int) -> bool:
        query = select(PromoRedemption.id).where(
            PromoRedemption.promo_id == promo_id, PromoRedemption.user_id == user_id
        )
        return (await session.scalar(query)) is not None

    async def discount(self, user_id: int) -> Discount | None:
        async with self._sessions() as session:
            return await active_discount(session, user_id, self._clock())

    async def overview(self) -> Sequence[PromoStats]:
        """Every code, newest first, with its uses and the payments it priced."""
        async with self._sessions() as session:
            promos = (
                await session.scalars(
                    select(PromoCode).order_by(PromoCode.created_at.desc(), PromoCode.id.desc())
                )
            ).all()
            money = (
                await session.execute(
                    select(
                        Payment.promo_id, Payment.currency, func.count(), func.sum(Payment.amount)
                    )
                    .where(Payment.promo_id.is_not(None))
                    .where(Payment.status == PaymentStatus.SUCCEEDED)
                    .group_by(Payment.promo_id, Payment.currency)
                )
            ).all()
        paid: dict[int, int] = {}
        revenue: dict[int, dict[str, int]] = {}
        for promo_id, currency, count, total in money:
            if promo_id is None:
                continue
            paid[promo_id] = paid.get(promo_id, 0) + int(count)
            revenue.setdefault(promo_id, {})[currency] = int(total)
        return [
            PromoStats(promo, paid.get(promo.id, 0), revenue.get(promo.id, {})) for promo in promos
        ]


async def active_discount(session: AsyncSession, user_id: int, now: datetime) -> Discount | None:
    """The discount of the code the user took last and has not paid with yet, while it is valid:
    free, or held by an open (pending) order of theirs."""
    query = (
        select(PromoCode, PromoRedemption.payment_id)
        .join(PromoRedemption, PromoRedemption.promo_id == PromoCode.id)
        .outerjoin(Payment, Payment.id == PromoRedemption.payment_id)
        .where(PromoRedemption.user_id == user_id)
        .where(or_(PromoRedemption.payment_id.is_(None), Payment.status == PaymentStatus.PENDING))
        .where(PromoCode.kind.in_(DISCOUNTS), PromoCode.valid_until > now)
        .order_by(PromoRedemption.id.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    promo, held_by = row
    return Discount(promo.id, promo.code, promo.kind, promo.value, promo.plan_codes, held_by)


async def hold(session: AsyncSession, user_id: int, promo_id: int, payment_id: int) -> bool:
    """The discount taken by this open order, if no other order holds or spent it: a
    conditional update, so of two orders made at once one gets it."""
    held = await session.execute(
        update(PromoRedemption)
        .where(PromoRedemption.promo_id == promo_id, PromoRedemption.user_id == user_id)
        .where(PromoRedemption.payment_id.is_(None))
        .values(payment_id=payment_id)
    )
    return bool(held.rowcount == 1)  # type: ignore[attr-defined]


async def release(session: AsyncSession, payment_id: int) -> None:
    """The discount held by an order that was canceled is free again."""
    await session.execute(
        update(PromoRedemption)
        .where(PromoRedemption.payment_id == payment_id)
        .values(payment_id=None)
    )


async def spend(session: AsyncSession, user_id: int, promo_id: int, payment_id: int) -> bool:
    """The discount is used up by this payment (in the credit's transaction); False when
    another payment holds or spent it (this one is credited all the same: the user paid)."""
    spent = await session.execute(
        update(PromoRedemption)
        .where(PromoRedemption.promo_id == promo_id, PromoRedemption.user_id == user_id)
        .where(or_(PromoRedemption.payment_id.is_(None), PromoRedemption.payment_id == payment_id))
        .values(payment_id=payment_id)
    )
    return bool(spent.rowcount == 1)  # type: ignore[attr-defined]
