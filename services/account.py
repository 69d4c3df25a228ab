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
        return Account(
            user=user,
            now=now,
            has_access=user.has_access(now),
            subscription=await self._subscriptions.subscription(user_id),
            devices=tuple(await self._devices.devices_of(user_id)),
            device_limit=self._devices.device_limit(user),
            history=await self._subscriptions.history(user_id),
            plans=self._payments.plans,
            card_payments=self._payments.yookassa_enabled,
            stars_payments=self._payments.stars_enabled,
        )
