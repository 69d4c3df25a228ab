"""The bot while the database is away: long polling takes no update, and an update that met
the outage gets the apology instead of a traceback in the log."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import ErrorEvent
from aiogram.types import User as TelegramUser

from bot.database_watch import DatabaseWatch, is_outage
from locales import Translator, pick_language, translator_for

if TYPE_CHECKING:
    from aiogram.methods import Response


class PollingWaitsForDatabase(BaseRequestMiddleware):
    """Long polling takes no update while the database is away: Telegram keeps them. Updates
    a long poll brought back after the database went away are left with Telegram too (the
    offset does not move), and asked for again once it answers."""

    def __init__(self, watch: DatabaseWatch) -> None:
        self._watch = watch

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        polling = isinstance(method, GetUpdates)
        while True:
            if polling:
                await self._watch.wait_up()
            answer = await make_request(bot, method)
            if not polling or self._watch.up:
                return answer


def register_outage_errors(dispatcher: Dispatcher, watch: DatabaseWatch) -> None:
    """An update that met the database's outage: the watch is told (it logs once, not a
    traceback per update) and the user gets the apology."""

    async def outage(
        event: ErrorEvent,
        bot: Bot,
        event_from_user: TelegramUser | None = None,
        t: Translator | None = None,
    ) -> None:
        watch.lost(event.exception)
        if event_from_user is None:
            return
        t = t or translator_for(pick_language(event_from_user.language_code))
        with contextlib.suppress(TelegramAPIError):
            if event.update.callback_query is not None:
                await event.update.callback_query.answer()
            await bot.send_message(event_from_user.id, t("error-generic"))

    def met_outage(event: ErrorEvent) -> bool:
        return is_outage(event.exception)

    dispatcher.errors.register(outage, met_outage)
