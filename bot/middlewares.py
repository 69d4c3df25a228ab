"""Update middlewares: private chats only, the user row refreshed, role and translator handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update

from db.models import Role
from locales import pick_language, translator_for
from services.users import UserService, Visitor


def _chat_type(update: Update) -> str | None:
    if update.message:
        return update.message.chat.type
    if update.callback_query and update.callback_query.message:
        return update.callback_query.message.chat.type
    return None


class UserContextMiddleware(BaseMiddleware):
    """Drops updates from groups; gives handlers `user`, `role`, `is_admin`, `is_staff` and `t`;
    a banned user gets one line and nothing else, except that a payment is still recorded."""

    def __init__(self, users: UserService) -> None:
        self._users = users

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        sender = data.get("event_from_user")
        if sender is None or sender.is_bot or _chat_type(event) not in (None, "private"):
            return None
        user = await self._users.touch(
            Visitor(
                id=sender.id,
                first_name=sender.first_name or "",
                username=sender.username,
                language=pick_language(sender.language_code),
            )
        )
        role = self._users.role_of(user)
        t = translator_for(user.language)
        if user.banned and role is not Role.ADMIN and not _is_payment(event):
            await _refuse_banned(event, t("user-banned"))
            return None
        data["user"] = user
        data["role"] = role
        data["is_admin"] = role is Role.ADMIN
        data["is_staff"] = role in (Role.ADMIN, Role.SUPPORT)
        data["t"] = t
        return await handler(event, data)


def _is_payment(update: Update) -> bool:
    """Stars Telegram has already taken: recorded whoever paid (a banned payer's are held)."""
    return update.message is not None and update.message.successful_payment is not None


async def _refuse_banned(update: Update, text: str) -> None:
    with suppress(TelegramAPIError):
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
