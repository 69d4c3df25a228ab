"""Errors raised by handlers: explained to the user in their language, never as a traceback."""

from __future__ import annotations

import logging
from contextlib import suppress

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter
from aiogram.types import ErrorEvent, InlineKeyboardMarkup

from db.models import User
from keyboards.menus import servers
from locales import Translator, translator_for
from locales.format import esc
from services.devices import DeviceService
from services.errors import NodeFull, NodeNotFound, NodeUnavailable, ServiceError
from services.placement import Placement

log = logging.getLogger(__name__)

OFFER_OTHER_SERVERS = (NodeUnavailable, NodeFull, NodeNotFound)


async def service_error(
    event: ErrorEvent,
    bot: Bot,
    placement: Placement,
    devices: DeviceService,
    user: User | None = None,
    t: Translator | None = None,
) -> None:
    """A refusal the user can act on; node trouble comes with the other servers to pick."""
    error = event.exception
    assert isinstance(error, ServiceError)
    if user is None or t is None:
        return
    args = {name: esc(value) for name, value in error.args_for_text.items()}
    markup: InlineKeyboardMarkup | None = None
    if isinstance(error, OFFER_OTHER_SERVERS):
        failed = error.args_for_text.get("node")
        choices = [choice for choice in await placement.choices() if choice.name != failed]
        current = await devices.current_node(user.id)
        markup = servers(t, choices, current.id if current else None) if choices else None
    await _answer(event, bot, user.id, t(error.key, **args), markup)


async def unexpected_error(event: ErrorEvent, bot: Bot, user: User | None = None) -> None:
    error = event.exception
    if isinstance(error, TelegramNetworkError | TelegramRetryAfter):
        # Telegram away or flooded past the waits: the session said so once, no traceback
        log.warning("update %s not answered: %s", event.update.update_id, error.message)
    else:
        log.error("update %s failed", event.update.update_id, exc_info=error)
    if user is not None:
        await _answer(event, bot, user.id, translator_for(user.language)("error-generic"), None)


async def _answer(
    event: ErrorEvent, bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    if event.update.callback_query:
        with suppress(TelegramAPIError):  # already answered by the handler
            await event.update.callback_query.answer()
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as error:
        log.info("error notice to %s not delivered: %s", chat_id, error.message)
