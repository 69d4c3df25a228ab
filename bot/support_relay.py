"""Telegram side of services.support.Relay: topics in the support forum, copies of messages
both ways, and short texts; every Telegram error becomes a RelayFailed."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup

from keyboards.support import user_card_button, write_button
from locales import translator_for
from locales.format import esc
from services.support import CardButton, RelayFailed, RelayProblem, WriteButton

THREAD_GONE = ("message thread not found", "TOPIC_DELETED", "TOPIC_ID_INVALID")
SOURCE_GONE = ("message to copy not found", "message can't be copied")


class TelegramSupportRelay:
    """Its calls pass the bot's pacer as answers do, with their 429s waited out."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def create_topic(self, chat_id: int, name: str) -> int:
        try:
            topic = await self._bot.create_forum_topic(chat_id, name)
        except TelegramAPIError as error:
            raise _failure(error) from None
        return topic.message_thread_id

    async def copy(
        self,
        to_chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        thread_id: int | None = None,
        button: CardButton | WriteButton | None = None,
    ) -> int:
        try:
            copied = await self._bot.copy_message(
                to_chat_id,
                from_chat_id,
                message_id,
                message_thread_id=thread_id,
                reply_markup=_markup(button),
            )
        except TelegramAPIError as error:
            raise _failure(error) from None
        return copied.message_id

    async def say(
        self,
        chat_id: int,
        key: str,
        *,
        language: str | None = None,
        thread_id: int | None = None,
        **args: str,
    ) -> int:
        t = translator_for(language)
        text = t(key, **{name: esc(value) for name, value in args.items()})
        try:
            sent = await self._bot.send_message(chat_id, text, message_thread_id=thread_id)
        except TelegramAPIError as error:
            raise _failure(error) from None
        return sent.message_id


def _markup(button: CardButton | WriteButton | None) -> InlineKeyboardMarkup | None:
    if isinstance(button, CardButton):
        return user_card_button(button.user_id, button.name)
    if isinstance(button, WriteButton):
        return write_button(translator_for(button.language))
    return None


def _failure(error: TelegramAPIError) -> RelayFailed:
    """What a Telegram error means for a copy: wait, make the topic again, or give up."""
    message = error.message
    if isinstance(error, TelegramRetryAfter | TelegramNetworkError | TelegramServerError):
        return RelayFailed(RelayProblem.UNAVAILABLE, message)
    if isinstance(error, TelegramBadRequest) and any(part in message for part in THREAD_GONE):
        return RelayFailed(RelayProblem.THREAD_GONE, message)
    if isinstance(error, TelegramBadRequest) and any(part in message for part in SOURCE_GONE):
        return RelayFailed(RelayProblem.SOURCE_GONE, message)
    return RelayFailed(RelayProblem.REFUSED, message)
