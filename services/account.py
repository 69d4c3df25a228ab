"""What the personal page shows of a user, read at once from the same services as the chat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.models import Device, Payment, User
from services.devices import DeviceService
from services.errors import UserNotFound
from services.payments import PaymentService
from services.plans import Plan
from services.pricing import Quote
from services.promos import Discount
from services.subscriptions import Subscription, SubscriptionService
from services.targets import is_amnezia
from services.users import UserService


@dataclass(frozen=True, slots=True)
class Account:
    """A user's access, plan, devices, payments, and what they may buy, as of `now`."""

    user: User
    now: datetime
    has_access: bool
    subscription: Subscription
    devices: tuple[Device, ...]
    device_limit: int
    history: Sequence[Payment]
    plans: tuple[Plan, ...]
    card_payments: bool
    stars_payments: bool
    quotes: tuple[Quote, ...] = ()  # every plan at the user's price
    sbp_payments: bool = False
    renewing_plans: frozenset[str] = frozenset()  # sold as a Stars subscription too
    terms_needed: bool = False  # the offer must be accepted before any payment
    offer_url: str | None = None
    privacy_url: str | None = None

    @property
    def discount(self) -> Discount | None:
        """The promo discount the user's prices carry, if any applies."""
        return next((q.discount for q in self.quotes if q.price.discounted), None)

    @property
    def traffic_blocked_until(self) -> datetime | None:
        until = self.user.traffic_blocked_until
        return until if until is not None and until > self.now else None

    @property
    def can_add_device(self) -> bool:
        return self.has_access and len(self.devices) < self.device_limit

    @property
    def amnezia(self) -> bool:
        """Whether any device is on an AmneziaWG node (its configs need the Amnezia apps)."""
        return any(is_amnezia(device.node) for device in self.devices)


class AccountService:
    def __init__(
        self,
        users: UserService,
        devices: DeviceService,
        subscriptions: SubscriptionService,
        payments: PaymentService,
    ) -> None:
        self._users = users
        self._devices = devices
        self._subscriptions = subscriptions
        self._payments = payments

    async def account(self, user_id: int) -> Account:
        """Everything from the database alone: no node is asked, so the page is quick."""
        user = await self._users.get(user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        now = self._users.clock()
        payments = self._payments
        return Account(
            user=user,
            now=now,
            has_access=user.has_access(now),
            subscription=await self._subscriptions.subscription(user_id),
            devices=tuple(await self._devices.devices_of(user_id)),
            device_limit=await self._devices.limit_of(user),
            history=await self._subscriptions.history(user_id),
            plans=payments.plans,
            card_payments=payments.yookassa_enabled,
            stars_payments=payments.stars_enabled,
            quotes=await payments.plan_quotes(user_id),
            sbp_payments=payments.sbp_enabled,
            renewing_plans=frozenset(
                p.code for p in payments.plans if payments.renews_with_stars(p)
            ),
            terms_needed=not await payments.terms.accepted(user_id),
            offer_url=payments.terms.offer_url,
            privacy_url=payments.terms.privacy_url,
        )
