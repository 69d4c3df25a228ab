"""What the page's routes are given: the services (on the app) and the caller (per request)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from db.models import User
from services.account import AccountService
from services.devices import DeviceService
from services.pages import PageService, Session, Source
from services.payments import PaymentService
from services.promos import PromoService
from services.qrdrawer import QrDrawer
from services.subscriptions import SubscriptionService
from services.users import UserService
from services.vless import VlessService
from web.limits import Limits
from web.render import Texts


class StarsInvoices(Protocol):
    """Makes a Telegram Stars invoice link (the bot's createInvoiceLink)."""

    async def link(
        self, *, title: str, description: str, payload: str, stars: int, period: int | None
    ) -> str:
        """An invoice link; with `period` (seconds), a subscription's."""
        ...


@dataclass(frozen=True)
class PageDeps:
    """The services the page calls, the same objects the chat's handlers get."""

    pages: PageService
    users: UserService
    account: AccountService
    devices: DeviceService
    subscriptions: SubscriptionService
    payments: PaymentService
    promos: PromoService
    stars: StarsInvoices
    vless: VlessService
    qr: QrDrawer
    client_address: Callable[[web.Request], str]  # the sender, behind trusted proxies too
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request, as the guard found them, with their texts and form token."""

    user: User
    session: Session
    texts: Texts
    csrf: str

    @property
    def in_telegram(self) -> bool:
        return self.session.source is Source.TELEGRAM


DEPS = web.AppKey("page_deps", PageDeps)
CALLER = web.RequestKey("page_caller", Caller)
