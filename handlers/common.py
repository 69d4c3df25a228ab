"""What handlers share: a user's name as shown, a Telegram id from a command, and answering a
button by replacing its message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from db.models import User
from locales.format import esc
from services.errors import InvalidInput
from services.users import TELEGRAM_ID_MAX

log = logging.getLogger(__name__)

Parsed = TypeVar("Parsed")


class Usage(InvalidInput):
    """A command typed wrongly; the error handler answers with how to type it."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(**args)
        self.key = key


def parsed(parse: Callable[[str], Parsed], text: str | None, usage: str, **args: object) -> Parsed:
    """What `parse` makes of a command's arguments; Usage (the `usage` text, with `args`) when
    it refuses them."""
    try:
        return parse((text or "").strip())
    except (InvalidInput, ValueError):
        raise Usage(usage, **args) from None


def display_name(user: User) -> str:
    return esc(user.display_name)


def parse_number(text: str, low: int, high: int) -> int:
    """A whole number typed in a command, from `low` to `high`; InvalidInput for anything else
    (signs, spaces, other digits than 0-9, more digits than `high` has)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        raise InvalidInput()
    number = int(text)
    if not low <= number <= high:
        raise InvalidInput()
    return number


def parse_user_id(text: str) -> int:
    """A Telegram user id typed by staff; InvalidInput for anything else."""
    return parse_number(text, 1, TELEGRAM_ID_MAX - 1)


async def acknowledge(event: Message | CallbackQuery, text: str | None = None) -> None:
    """Stop a pressed button's spinner (with a short notice); a command needs nothing."""
    if isinstance(event, CallbackQuery):
        await event.answer(text)


async def replace(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Show `text` in place of the pressed message; an unchanged text is no error, and a
    message that cannot be edited (too old, gone) gets a new one instead."""
    message = query.message
    if isinstance(message, Message):
        try:
            await bot.edit_message_text(
                text, chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
            )
            return
        except TelegramBadRequest as error:
            if "not modified" in error.message:
                return
            log.info("cannot edit message %s: %s", message.message_id, error.message)
    await bot.send_message(query.from_user.id, text, reply_markup=markup)
