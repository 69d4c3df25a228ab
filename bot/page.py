"""The personal page wired into the bot: its routes on the web server, Stars invoices made
through the Bot, and the Mini App as the chat's menu button."""

from __future__ import annotations

import logging
from functools import partial

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import LabeledPrice
from aiohttp import web

from bot.container import Services
from bot.yookassa_webhook import client_address
from handlers.commands import set_page_menu
from locales import DEFAULT_LANGUAGE, translator_for
from services.errors import PaymentUnavailable
from services.payments import STARS_CURRENCY
from web.app import setup
from web.context import PageDeps

log = logging.getLogger(__name__)


class TelegramStarsInvoices:
    """Stars invoice links for the page (Telegram.WebApp.openInvoice opens them)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def link(
        self, *, title: str, description: str, payload: str, stars: int, period: int | None
    ) -> str:
        try:
            return await self._bot.create_invoice_link(
                title=title,
                description=description,
                payload=payload,
                currency=STARS_CURRENCY,
                prices=[LabeledPrice(label=title, amount=stars)],
                subscription_period=period,
            )
        except TelegramAPIError as error:
            log.warning("Stars invoice link not made: %s", error.message)
            raise PaymentUnavailable() from error


def register_page(app: web.Application, services: Services, bot: Bot) -> None:
    """Serve the page when PUBLIC_URL is set (without it there is no page)."""
    if not services.pages.enabled:
        return
    setup(
        app,
        PageDeps(
            pages=services.pages,
            users=services.users,
            account=services.account,
            devices=services.devices,
            subscriptions=services.subscriptions,
            payments=services.payments,
            promos=services.promos,
            stars=TelegramStarsInvoices(bot),
            vless=services.vless,
            qr=services.qr,
            client_address=partial(
                client_address, trusted_proxies=services.settings.web_trusted_proxies
            ),
        ),
    )


async def set_menu_button(bot: Bot, services: Services) -> None:
    """The Mini App as every chat's menu button, in Russian (a chat in another language gets
    its own on /start)."""
    if services.pages.app_url is not None:
        await set_page_menu(bot, services.pages.app_url, translator_for(DEFAULT_LANGUAGE))
