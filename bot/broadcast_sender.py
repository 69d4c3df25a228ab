"""Telegram side of services.broadcasts.Sender: one message per chat (a text, or a photo,
video or document with its caption, and its buttons), progress in the admin's chat."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup

from bot.telegram_calls import bulk_calls
from db.models import BroadcastStatus
from keyboards.broadcast import broadcast_buttons, broadcast_stop
from locales import Translator, translator_for
from services.broadcasts import (
    BroadcastMessage,
    BroadcastService,
    MediaKind,
    Progress,
    SendOutcome,
    SendResult,
)
from services.users import UserService

log = logging.getLogger(__name__)

TIMEOUT = "Request timeout error"  # aiogram's message when Telegram did not answer in time


def setup_broadcasts(dispatcher: Dispatcher, broadcasts: BroadcastService) -> None:
    """Unfinished broadcasts go on when polling (or a webhook) starts; sends in flight finish
    before the Bot's session closes."""

    async def resume() -> None:
        resumed = await broadcasts.resume()
        if resumed:
            log.info("resumed broadcasts %s", resumed)

    async def stop() -> None:
        await broadcasts.stop()

    dispatcher.startup.register(resume)
    dispatcher.shutdown.register(stop)


class TelegramBroadcastSender:
    """Its calls are bulk calls: the runner paced them, and a 429 comes back to it as FLOOD."""

    def __init__(self, bot: Bot, users: UserService) -> None:
        self._bot = bot
        self._users = users
        self._languages: dict[int, str] = {}

    async def send(self, chat_id: int, message: BroadcastMessage) -> SendResult:
        try:
            with bulk_calls():
                sent = await self._send(chat_id, message)
        except TelegramAPIError as error:
            return _result(error)
        return SendResult(SendOutcome.SENT, message_id=sent)

    async def _send(self, chat_id: int, message: BroadcastMessage) -> int:
        markup = broadcast_buttons(message.buttons)
        caption = message.text or None
        if message.media is MediaKind.PHOTO:
            sent = await self._bot.send_photo(
                chat_id, message.file_id, caption=caption, reply_markup=markup
            )
        elif message.media is MediaKind.VIDEO:
            sent = await self._bot.send_video(
                chat_id, message.file_id, caption=caption, reply_markup=markup
            )
        elif message.media is MediaKind.DOCUMENT:
            sent = await self._bot.send_document(
                chat_id, message.file_id, caption=caption, reply_markup=markup
            )
        else:
            sent = await self._bot.send_message(chat_id, message.text, reply_markup=markup)
        return sent.message_id

    async def show_progress(self, progress: Progress) -> SendResult:
        t = await self._translator(progress.admin_id)
        markup = None if progress.finished else broadcast_stop(t, progress.broadcast_id)
        with bulk_calls():
            return await self._show(progress, progress_text(t, progress), markup)

    async def _show(
        self, progress: Progress, text: str, markup: InlineKeyboardMarkup | None
    ) -> SendResult:
        if progress.message_id is not None:
            try:
                await self._bot.edit_message_text(
                    text,
                    chat_id=progress.admin_id,
                    message_id=progress.message_id,
                    reply_markup=markup,
                )
                return SendResult(SendOutcome.SENT, message_id=progress.message_id)
            except TelegramBadRequest as error:
                if "not modified" in error.message:
                    return SendResult(SendOutcome.SENT, message_id=progress.message_id)
                log.info("broadcast progress: a new message (%s)", error.message)
            except TelegramAPIError as error:
                return _result(error)
        try:
            message = await self._bot.send_message(progress.admin_id, text, reply_markup=markup)
        except TelegramAPIError as error:
            return _result(error)
        return SendResult(SendOutcome.SENT, message_id=message.message_id)

    async def _translator(self, user_id: int) -> Translator:
        if user_id not in self._languages:
            user = await self._users.get(user_id)
            self._languages[user_id] = user.language if user else ""
        return translator_for(self._languages[user_id] or None)


PROGRESS_TITLES = {
    BroadcastStatus.RUNNING: "broadcast-progress-running",
    BroadcastStatus.DONE: "broadcast-progress-done",
    BroadcastStatus.CANCELLED: "broadcast-progress-stopped",
}


def progress_text(t: Translator, progress: Progress) -> str:
    key = PROGRESS_TITLES[progress.status]
    lines = [
        t(key, id=str(progress.broadcast_id), total=str(progress.total)),
        t(
            "broadcast-progress-counts",
            sent=str(progress.sent),
            failed=str(progress.failed),
            blocked=str(progress.blocked),
            left=str(progress.left),
        ),
    ]
    if progress.unknown:
        lines.append(t("broadcast-progress-unknown", unknown=str(progress.unknown)))
    if progress.cancelled:
        lines.append(t("broadcast-progress-cancelled", cancelled=str(progress.cancelled)))
    return "\n".join(lines)


def _result(error: TelegramAPIError) -> SendResult:
    """Which errors mean: wait and retry, never again, or try again later."""
    if isinstance(error, TelegramRetryAfter):
        return SendResult(SendOutcome.FLOOD, retry_after=float(error.retry_after))
    if isinstance(error, TelegramForbiddenError):
        return SendResult(SendOutcome.BLOCKED, error=error.message)
    if isinstance(error, TelegramEntityTooLarge) or (
        isinstance(error, TelegramNetworkError) and error.message == TIMEOUT
    ):
        # Without an answer Telegram may have delivered it: a retry could make a second copy.
        return SendResult(SendOutcome.FAILED, error=error.message)
    if isinstance(error, TelegramNetworkError | TelegramServerError):
        return SendResult(SendOutcome.RETRY, error=error.message)
    return SendResult(SendOutcome.FAILED, error=error.message)
