"""/status: access and until when, node, device, last handshake and traffic as the node's
latest probe read them."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from db.models import Purpose, User
from handlers.common import acknowledge
from keyboards.callbacks import MenuAction, MenuCD, Sale
from keyboards.menus import with_page
from keyboards.subscribe import account
from locales import Translator
from locales.format import esc, format_ago, format_bytes, format_date, plan_title
from services.devices import DeviceService, handshake_age, probe_age
from services.pages import PageService
from services.payments import PaymentService
from services.pricing import Quote
from services.subscriptions import SubscriptionService

router = Router(name=__name__)


async def account_lines(
    user: User, t: Translator, subscriptions: SubscriptionService, payments: PaymentService
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """Plan, end date and auto-renewal, and the buttons that change them."""
    now = subscriptions.clock()
    if user.traffic_blocked_until is not None and user.traffic_blocked_until > now:
        lines = [t("status-traffic-blocked", until=format_date(user.traffic_blocked_until))]
    elif not user.has_access(now):
        lines = [t("status-no-access")]
    elif user.access_until is None:
        lines = [t("status-access-forever")]
    else:
        lines = [t("status-access-until", until=format_date(user.access_until))]
    subscription = await subscriptions.subscription(user.id)
    if subscription.plan is not None:
        lines.append(t("status-plan", title=plan_title(t, subscription.plan)))
    if subscription.auto_renew:
        lines.append(t("status-auto-renew-on"))
    elif subscription.plan is not None and payments.yookassa_enabled:
        lines.append(t("status-auto-renew-off"))
    stars_renewing = None
    if subscription.stars_until is not None:
        stars_renewing = subscription.stars_renewing
        key = "status-stars-sub-on" if stars_renewing else "status-stars-sub-off"
        lines.append(t(key, until=format_date(subscription.stars_until)))
    addons = [
        (Sale(quote.purpose.value), addon_button(t, quote))
        for quote in await payments.addons_on_sale(user.id)
    ]
    history = bool(await subscriptions.history(user.id))
    markup = account(
        t,
        payments=payments.enabled,
        auto_renew=subscription.auto_renew,
        history=history,
        stars_renewing=stars_renewing,
        addons=addons if payments.enabled else (),
    )
    return lines, markup


def addon_button(t: Translator, quote: Quote) -> str:
    if quote.purpose is Purpose.DEVICE:
        return t("addon-device-button")
    return t("addon-traffic-button", gb=quote.gb)


async def status_text(
    user: User, t: Translator, devices: DeviceService, lines: list[str], now: datetime
) -> str:
    status = await devices.status(user.id)
    if status is None:
        lines.append(t("status-no-device"))
        return "\n".join(lines)
    device = status.device
    address = device.address4 or t("devices-no-address")
    lines.append(t("status-device", node=esc(status.node.label), address=address))
    if not status.node_reachable:
        lines.append(t("status-node-unreachable"))
        return "\n".join(lines)
    age = handshake_age(device, now)
    if age is None:
        lines.append(t("status-handshake-never"))
    else:
        lines.append(t("status-handshake", ago=format_ago(t, age)))
    if device.total_bytes:
        # rx is what the node received from the device: the user sent it
        lines.append(
            t(
                "status-traffic",
                received=format_bytes(t, device.tx_total),
                sent=format_bytes(t, device.rx_total),
            )
        )
    read = probe_age(status.probe, now)
    if read is not None:
        lines.append(t("probed-ago", ago=format_ago(t, read)))
    return "\n".join(lines)


@router.message(Command("status"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.STATUS))
async def status_screen(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    devices: DeviceService,
    subscriptions: SubscriptionService,
    payments: PaymentService,
    pages: PageService,
    bot: Bot,
) -> None:
    await acknowledge(event)
    lines, markup = await account_lines(user, t, subscriptions, payments)
    text = await status_text(user, t, devices, lines, subscriptions.clock())
    await bot.send_message(user.id, text, reply_markup=with_page(t, markup, pages.app_url))
