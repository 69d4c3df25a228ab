"""Rendering shared by handlers: the config messages, dates, sizes, durations, admin notices."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup

from db.models import User
from locales import Translator, translator_for
from services.clientconfig import ClientConfig, qr_png

log = logging.getLogger(__name__)


async def send_config(bot: Bot, chat_id: int, config: ClientConfig, t: Translator) -> None:
    """The `.conf` as a document named after the node, then a QR code of the same text."""
    text = config.text
    await bot.send_document(
        chat_id,
        BufferedInputFile(text.encode(), filename=config.filename),
        caption=t(
            "config-document-caption-awg" if config.obfuscation else "config-document-caption",
            node=esc(config.node_name),
        ),
    )
    png = await asyncio.to_thread(qr_png, text)
    await bot.send_photo(
        chat_id,
        BufferedInputFile(png, filename=f"{config.node_name}.png"),
        caption=t("config-qr-caption-awg" if config.obfuscation else "config-qr-caption"),
    )


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def format_date(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M UTC")


def format_amount(amount: int, currency: str) -> str:
    """A payment's amount: stars as they are, roubles from kopecks."""
    return f"{amount} ⭐" if currency == "XTR" else f"{amount / 100:.2f} ₽"


def format_bytes(t: Translator, count: int) -> str:
    value = float(count)
    for key in ("unit-bytes", "unit-kib", "unit-mib"):
        if value < 1024:
            return t(key, value=_short(value))
        value /= 1024
    return t("unit-gib", value=_short(value))


def format_ago(t: Translator, seconds: float) -> str:
    if seconds < 60:
        return t("ago-seconds", value=str(int(seconds)))
    if seconds < 3600:
        return t("ago-minutes", value=str(int(seconds // 60)))
    if seconds < 86400:
        return t("ago-hours", value=str(int(seconds // 3600)))
    return t("ago-days", value=str(int(seconds // 86400)))


def _short(value: float) -> str:
    return str(int(value)) if value >= 100 or value == int(value) else f"{value:.1f}"


def display_name(user: User) -> str:
    return esc(user.display_name)


async def notify(
    bot: Bot,
    recipients: Iterable[User],
    key: str,
    markup: Callable[[Translator], InlineKeyboardMarkup] | None = None,
    **args: object,
) -> int:
    """Send a text to each user in their own language; returns how many got it."""
    delivered = 0
    for recipient in recipients:
        t = translator_for(recipient.language)
        keyboard = markup(t) if markup else None
        try:
            await bot.send_message(recipient.id, t(key, **args), reply_markup=keyboard)
            delivered += 1
        except TelegramAPIError as error:
            log.info("notice %s to %s not delivered: %s", key, recipient.id, error.message)
    return delivered
