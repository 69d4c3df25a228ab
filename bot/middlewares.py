"""Update middlewares: private chats only, the user row refreshed, their translator handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.i18n import pick_language, translator_for
from services.users import UserService, Visitor


def _chat_type(update: Update) -> str | None:
    if update.message:
        return update.message.chat.type
    if update.callback_query and update.callback_query.message:
        return update.callback_query.message.chat.type
    return None


class UserContextMiddleware(BaseMiddleware):
    """Drops updates from groups; gives handlers `user`, `is_admin` and `t`."""

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
        data["user"] = user
        data["is_admin"] = self._users.is_admin(user)
        data["t"] = translator_for(user.language)
        return await handler(event, data)
