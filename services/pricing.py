"""What things cost, computed here only: a plan with the user's promo discount, a gift, an
add-on for the days left of the plan, in roubles and in Stars. The chat, the page, the Stars
invoice and the YooKassa order all take their price from here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, PromoKind, Purpose, User
from services.addons import MAX_EXTRA_DEVICES, extra_devices
from services.clock import Clock, system_clock
from services.errors import AddonUnavailable, PlanNotFound, UserNotFound
from services.plans import AddonPrice, Plan
from services.promos import Discount, active_discount
from services.subscriptions import SubscriptionService

PERIOD_DAYS = 30  # add-ons are priced per 30 days
ADDONS = (Purpose.DEVICE, Purpose.TRAFFIC)


@dataclass(frozen=True, slots=True)
class Price:
    """What is charged (whole roubles, Stars) for `days`, and the price without a discount."""

    rub: int
    stars: int
    days: int
    full_rub: int
    full_stars: int
    promo_id: int | None = None

    @property
    def kopecks(self) -> int:
        return self.rub * 100

    @property
    def discounted(self) -> bool:
        return self.rub < self.full_rub or self.stars < self.full_stars


@dataclass(frozen=True, slots=True)
class Quote:
    """A price for one user: what is bought, on which plan, and the discount it carries."""

    purpose: Purpose
    plan: Plan
    price: Price
    discount: Discount | None = None
    gb: int = 0  # traffic an add-on adds per 30 days


def _scaled(amount: int, numerator: int, denominator: int) -> int:
    """`amount` × numerator / denominator, rounded half up, never below 1."""
    return max(1, (2 * amount * numerator + denominator) // (2 * denominator))


def plan_price(plan: Plan, discount: Discount | None) -> Price:
    """The plan's price, less the discount when it applies to this plan."""
    if discount is None or not discount.applies_to(plan.code):
        return Price(plan.rub, plan.stars, plan.days, plan.rub, plan.stars)
    if discount.kind is PromoKind.PERCENT:
        rub = _scaled(plan.rub, 100 - discount.value, 100)
        stars = _scaled(plan.stars, 100 - discount.value, 100)
    else:  # roubles off; Stars by the same share
        rub = max(1, plan.rub - discount.value)
        stars = _scaled(plan.stars, rub, plan.rub)
    return Price(rub, stars, plan.days, plan.rub, plan.stars, discount.promo_id)


def addon_price(addon: AddonPrice, days_left: int) -> Price:
    """An add-on for the days left of the plan, from its price per 30 days (rounded up)."""
    rub = max(1, math.ceil(addon.rub * days_left / PERIOD_DAYS))
    stars = max(1, math.ceil(addon.stars * days_left / PERIOD_DAYS))
    return Price(rub, stars, days_left, rub, stars)


class Pricing:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        subscriptions: SubscriptionService,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._subscriptions = subscriptions
        self._clock = clock

    async def quote(
        self, user_id: int, purpose: Purpose, plan_code: str | None, *, renewing: bool = False
    ) -> Quote:
        """The user's price for a plan (with their discount; none for a Stars subscription,
        `renewing`, which charges the same every period), a plan as a gift (no discount), or
        an add-on to their own plan (`plan_code` is then theirs)."""
        async with self._sessions() as session:
            if purpose in ADDONS:
                return await self._addon(session, user_id, purpose)
            plan = self._subscriptions.plan(plan_code)
            if plan is None:
                raise PlanNotFound()
            if purpose is Purpose.GIFT or renewing:
                return Quote(purpose, plan, plan_price(plan, None))
            discount = await active_discount(session, user_id, self._clock())
        return Quote(purpose, plan, plan_price(plan, discount), discount)

    async def plan_quotes(self, user_id: int) -> tuple[Quote, ...]:
        """Every plan at the user's price, in the operator's order."""
        async with self._sessions() as session:
            discount = await active_discount(session, user_id, self._clock())
        return tuple(
            Quote(Purpose.PLAN, plan, plan_price(plan, discount), discount)
            for plan in self._subscriptions.plans
        )

    async def _addon(self, session: AsyncSession, user_id: int, purpose: Purpose) -> Quote:
        now = self._clock()
        addons = self._subscriptions.addons
        addon = addons.device if purpose is Purpose.DEVICE else addons.traffic
        user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        plan = self._subscriptions.plan(user.plan_code)
        paid = user.access_kind is AccessKind.PAID and user.access_running(now)
        if addon is None or plan is None or not paid or user.access_until is None:
            raise AddonUnavailable()
        if purpose is Purpose.TRAFFIC and plan.traffic_gb is None:
            raise AddonUnavailable()
        if purpose is Purpose.DEVICE and (
            await extra_devices(session, user_id, now) >= MAX_EXTRA_DEVICES
        ):
            raise AddonUnavailable()
        days_left = max(1, math.ceil((user.access_until - now) / timedelta(days=1)))
        return Quote(purpose, plan, addon_price(addon, days_left), gb=addon.gb)

    async def addons_on_sale(self, user_id: int) -> tuple[Quote, ...]:
        """The add-ons this user may buy now, priced (none without a paid plan)."""
        quotes = []
        for purpose in ADDONS:
            try:
                quotes.append(await self.quote(user_id, purpose, None))
            except AddonUnavailable:
                continue
        return tuple(quotes)
