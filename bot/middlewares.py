"""Update middlewares: private chats only (and the staff's messages in the support forum), the
sender read without a write, banned users and floods dropped before anything is written, then
the user row refreshed; role and translator handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser

from db.models import Role, User
from locales import pick_language, translator_for
from services.users import UserService, Visitor

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _chat_type(update: Update) -> str | None:
    if update.message:
        return update.message.chat.type
    if update.callback_query and update.callback_query.message:
        return update.callback_query.message.chat.type
    return None


class UserContextMiddleware(BaseMiddleware):
    """Drops updates from bots and from groups, except the staff's messages in the support
    forum (`support_chat_id`). Reads the sender's row, writing nothing, and gives the next
    middlewares and handlers `user` (None for someone new), `role`, `is_admin`, `is_staff`
    and `t`. A banned user gets one line and nothing else, no write at all, except that Stars
    Telegram has already taken are recorded (a banned payer's are held). Staff are known from
    the settings' ids and this read, so the throttle that comes next needs no write either."""

    def __init__(self, users: UserService, support_chat_id: int | None = None) -> None:
        self._users = users
        self._support_chat_id = support_chat_id

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None or sender.is_bot:
            return None
        in_forum = self._in_support_chat(event)
        if not in_forum and _chat_type(event) not in (None, "private"):
            return None
        user = await self._users.get(sender.id)
        if user is None:
            role = self._users.role_from_settings(sender.id) or Role.USER
            language = pick_language(sender.language_code)
        else:
            role, language = self._users.role_of(user), user.language
        if in_forum and role not in (Role.ADMIN, Role.SUPPORT):
            return None
        _hand_on(data, user, role, language)
        if user is not None and user.banned and role is not Role.ADMIN and not _is_payment(event):
            await _refuse_banned(event, data["t"]("user-banned"))
            return None
        return await handler(event, data)

    def _in_support_chat(self, update: Update) -> bool:
        """A message in the support forum: only those reach the handlers from a group."""
        message = update.message
        return (
            self._support_chat_id is not None
            and message is not None
            and message.chat.id == self._support_chat_id
        )


class UserTouchMiddleware(BaseMiddleware):
    """After the throttle: the user's row created or refreshed (name, language, last seen),
    the one write every served update makes; handlers get the fresh row."""

    def __init__(self, users: UserService) -> None:
        self._users = users

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser = data["event_from_user"]
        visitor = Visitor(
            id=sender.id,
            first_name=sender.first_name or "",
            username=sender.username,
            language=pick_language(sender.language_code),
        )
        user = await self._users.touch(visitor, read=data.get("user"))
        _hand_on(data, user, self._users.role_of(user), user.language)
        return await handler(event, data)


def _hand_on(data: dict[str, Any], user: User | None, role: Role, language: str) -> None:
    data["user"] = user
    data["role"] = role
    data["is_admin"] = role is Role.ADMIN
    data["is_staff"] = role in (Role.ADMIN, Role.SUPPORT)
    data["t"] = translator_for(language)


def _is_payment(update: Update) -> bool:
    """Stars Telegram has already taken: recorded whoever paid (a banned payer's are held)."""
    return update.message is not None and update.message.successful_payment is not None


async def _refuse_banned(update: Update, text: str) -> None:
    with suppress(TelegramAPIError):
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
