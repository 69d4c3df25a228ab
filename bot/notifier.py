"""Telegram side of services.notify.Notifier: alerts to admins, configs to users."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import FSInputFile

from handlers.common import esc, format_date, notify, send_config
from keyboards.subscribe import renew_button
from locales import DEFAULT_LANGUAGE, translator_for
from services.clientconfig import ClientConfig
from services.users import UserService

log = logging.getLogger(__name__)


class TelegramNotifier:
    def __init__(self, bot: Bot, users: UserService, alerts_chat_id: int | None) -> None:
        self._bot = bot
        self._users = users
        self._alerts_chat_id = alerts_chat_id

    async def to_admins(self, key: str, **args: str) -> None:
        """To the alerts chat when one is set, else to every admin in their language."""
        safe = {name: esc(value) for name, value in args.items()}
        if self._alerts_chat_id is None:
            await notify(self._bot, await self._users.admins(), key, None, **safe)
            return
        try:
            await self._bot.send_message(
                self._alerts_chat_id, translator_for(DEFAULT_LANGUAGE)(key, **safe)
            )
        except TelegramAPIError as error:
            log.warning("alert %s not delivered to the alerts chat: %s", key, error.message)

    async def file_to_admins(self, path: Path, key: str, **args: str) -> int:
        """A document with a caption to the alerts chat when one is set, else to every admin."""
        safe = {name: esc(value) for name, value in args.items()}
        if self._alerts_chat_id is not None:
            chats = [(self._alerts_chat_id, translator_for(DEFAULT_LANGUAGE))]
        else:
            chats = [(a.id, translator_for(a.language)) for a in await self._users.admins()]
        delivered = 0
        for chat_id, t in chats:
            try:
                await self._bot.send_document(
                    chat_id, FSInputFile(path, filename=path.name), caption=t(key, **safe)
                )
                delivered += 1
            except TelegramAPIError as error:
                log.warning("file %s not delivered to %s: %s", path.name, chat_id, error.message)
        return delivered

    async def send_config(self, user_id: int, key: str, config: ClientConfig, **args: str) -> bool:
        user = await self._users.get(user_id)
        t = translator_for(user.language if user else None)
        try:
            await self._bot.send_message(user_id, t(key, **{k: esc(v) for k, v in args.items()}))
            await send_config(self._bot, user_id, config, t)
        except TelegramAPIError as error:
            log.info("config for %s not delivered: %s", user_id, error.message)
            return False
        return True

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        user = await self._users.get(user_id)
        t = translator_for(user.language if user else None)
        markup = renew_button(t) if button == "renew" else None
        shown = {name: _shown(value) for name, value in args.items()}
        try:
            await self._bot.send_message(user_id, t(key, **shown), reply_markup=markup)
        except TelegramAPIError as error:
            log.info("%s for %s not delivered: %s", key, user_id, error.message)
            return False
        return True


def _shown(value: str | datetime | None) -> str:
    if value is None:
        return "-"
    return format_date(value) if isinstance(value, datetime) else esc(value)
