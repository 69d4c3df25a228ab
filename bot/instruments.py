"""Timing of the bot's own work for bot/metrics.py: each update by the handler that took it, and
each Bot API request by method, with Telegram's 429 answers counted."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject

from bot.metrics import BOT_API_SECONDS, TELEGRAM_429, UPDATE_SECONDS

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response

UNTIMED = ("update", "error")  # the outer update observer sees no handler; errors are not work


def handler_name(handler: HandlerObject) -> str:
    """`module.function` of a handler, as the update histogram labels it."""
    callback = handler.callback
    module = getattr(callback, "__module__", "").removeprefix("handlers.")
    return f"{module}.{getattr(callback, '__name__', type(callback).__name__)}"


class HandlerTimer(BaseMiddleware):
    """Times the handler an update went to; a handler that passes (SkipHandler) is not timed."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        skipped = False
        try:
            return await handler(event, data)
        except SkipHandler:
            skipped = True
            raise
        finally:
            chosen = data.get("handler")
            if not skipped and isinstance(chosen, HandlerObject):
                UPDATE_SECONDS.labels(handler_name(chosen)).observe(time.perf_counter() - started)


def time_handlers(dispatcher: Dispatcher) -> None:
    """Every handler of every router under the dispatcher is timed."""
    for name, observer in dispatcher.observers.items():
        if name not in UNTIMED:
            observer.middleware(HandlerTimer())


class CallTimer(BaseRequestMiddleware):
    """Times each request to the Bot API (each attempt, inside the flow control) and counts
    the 429 answers."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        started = time.perf_counter()
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter:
            TELEGRAM_429.labels(name).inc()
            raise
        finally:
            BOT_API_SECONDS.labels(name).observe(time.perf_counter() - started)
