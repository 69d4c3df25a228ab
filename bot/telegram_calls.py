"""Every Bot API call: paced under Telegram's flood limit, a 429 waited out, an outage told in
one line, directly or through TELEGRAM_PROXY."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from bot.backoff import backoff
from bot.instruments import CallTimer
from services.pacing import Pacer, Ticket

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

PACED = ("send", "copy", "forward", "edit")  # calls that put a message into a chat
REPEATABLE = ("get", "set", "deleteWebhook", "deleteMyCommands")  # same effect when repeated
MAX_ATTEMPTS = 5  # of one call, 429s and connection failures together
MAX_WAIT = 60.0  # seconds one call may spend waiting out 429s and connection failures
_PROXY_ERRORS = (ProxyConnectionError, ProxyError, ProxyTimeoutError)

_ANSWER_TYPES: dict[Any, type[Response[Any]]] = {}  # BotApiSession's: one per kind of answer

_bulk: contextvars.ContextVar[bool] = contextvars.ContextVar("bulk_call", default=False)


@contextlib.contextmanager
def bulk_calls() -> Iterator[None]:
    """Calls made inside are a broadcast's: its runner paced them already and puts a 429's
    message back in its queue, so they are neither paced nor retried here."""
    token = _bulk.set(True)
    try:
        yield
    finally:
        _bulk.reset(token)


def create_session(
    api_url: str, pacer: Pacer, proxy: str | None = None, proxy_shown: str = ""
) -> AiohttpSession:
    """The HTTP session to the Bot API, direct or through an HTTP or SOCKS5 proxy (shown in
    logs as `proxy_shown`, without its password), with FlowControl over the pacer and, inside
    it, each attempt timed."""
    session = BotApiSession(api=TelegramAPIServer.from_base(api_url), proxy=proxy)
    where = f"{api_url} through the proxy {proxy_shown}" if proxy else api_url
    session.middleware(FlowControl(pacer, Outage(where)))
    session.middleware(CallTimer())
    return session


class BotApiSession(AiohttpSession):
    """aiogram's session, with the class of each kind of answer kept alive: pydantic caches
    `Response[Message]` and the like only weakly, so after a garbage collection the next call
    built the class again (about 10 ms, on one call in five in a run of /get_config)."""

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in _ANSWER_TYPES:
            _ANSWER_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)


def flow_control(bot: Bot) -> FlowControl:
    """The FlowControl on the bot's session."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, FlowControl):
            return middleware
    raise LookupError("the bot's session has no FlowControl: make the bot with create_bot")


class Outage:
    """Whether the Bot API answers: the first failure is one line, the first answer after it
    another; the failures between say nothing."""

    def __init__(self, where: str) -> None:
        self._where = where
        self._since: float | None = None

    def failed(self, error: TelegramAPIError) -> None:
        if self._since is None:
            self._since = time.monotonic()
            log.warning(
                "Telegram Bot API at %s unreachable (%s): check the network, DNS, a firewall "
                "or TELEGRAM_PROXY; retrying with backoff",
                self._where,
                _reason(error),
            )

    def answered(self) -> None:
        if self._since is not None:
            log.warning(
                "Telegram Bot API answers again after %.0f s", time.monotonic() - self._since
            )
            self._since = None


def _reason(error: TelegramAPIError) -> str:
    """What went wrong, from the connection's own error when there is one."""
    cause = error.__cause__
    if cause is None:
        return f"{type(error).__name__}: {error.message}"
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _never_sent(error: TelegramNetworkError) -> bool:
    """The request never reached Telegram (no connection was made), so repeating it cannot
    make a second message."""
    return isinstance(error.__cause__, (aiohttp.ClientConnectorError, *_PROXY_ERRORS))


class FlowControl(BaseRequestMiddleware):
    """The bot's request middleware. Message calls wait for the shared pacer (urgent, before
    broadcasts); a 429 holds every sender for its retry_after and the call is made again; a
    call that never reached Telegram is made again after a backoff; both within MAX_ATTEMPTS
    and MAX_WAIT. A call that may have reached Telegram (a timeout, a 5xx) is never repeated,
    unless repeating it changes nothing. getUpdates waits out every failure, for as long as
    it lasts."""

    def __init__(self, pacer: Pacer, outage: Outage) -> None:
        self.pacer = pacer
        self.outage = outage

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):
            return await self._poll(make_request, bot, method)
        if _bulk.get():
            return await self._bulk_call(make_request, bot, method)
        return await self._call(make_request, bot, method)

    async def _call(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        paced = name.startswith(PACED)
        started = time.monotonic()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            ticket = await self._slot(method, started) if paced else None
            try:
                result = await _request(make_request, bot, method)
            except TelegramRetryAfter as error:
                self.pacer.hold(error.retry_after)
                if not self._may_wait(name, attempt, started, error.retry_after):
                    raise
                if not paced:  # paced calls wait for the pacer's hold
                    await asyncio.sleep(error.retry_after)
                continue
            except TelegramNetworkError as error:
                if not (_never_sent(error) or name.startswith(REPEATABLE)):
                    raise
                self.outage.failed(error)
                wait = backoff(attempt)
                if attempt == MAX_ATTEMPTS or time.monotonic() - started + wait > MAX_WAIT:
                    raise
                await asyncio.sleep(wait)
                continue
            finally:
                if ticket is not None:
                    self.pacer.release(ticket)
            self.outage.answered()
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _slot(self, method: TelegramMethod[TelegramType], started: float) -> Ticket:
        """An urgent slot of the pacer; a hold longer than the time left is a 429 at once."""
        left = MAX_WAIT - (time.monotonic() - started)
        held = self.pacer.held_for
        if held > left:
            raise TelegramRetryAfter(
                method=method,
                message=f"Flood control: every sender waits {math.ceil(held)} s",
                retry_after=math.ceil(held),
            )
        return await self.pacer.acquire(urgent=True)

    @staticmethod
    def _may_wait(name: str, attempt: int, started: float, wait: float) -> bool:
        """Whether a 429 may be waited out within the bounds; one line either way."""
        spent = time.monotonic() - started
        if attempt < MAX_ATTEMPTS and spent + wait <= MAX_WAIT:
            log.info(
                "Telegram 429 on %s: every sender waits %.0f s, then again (attempt %d of %d)",
                name,
                wait,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            return True
        log.warning(
            "Telegram 429 on %s: given up after %d attempts and %.0f s (retry_after %.0f s)",
            name,
            attempt,
            spent,
            wait,
        )
        return False

    async def _bulk_call(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            result = await _request(make_request, bot, method)
        except TelegramRetryAfter as error:
            self.pacer.hold(error.retry_after)
            raise
        self.outage.answered()
        return result

    async def _poll(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """getUpdates asks again from the same offset until Telegram answers, so polling
        neither stops nor floods the log while Telegram is away."""
        attempt = 0
        while True:
            try:
                result = await _request(make_request, bot, method)
            except TelegramRetryAfter as error:
                wait = float(error.retry_after)
                log.info("Telegram 429 on getUpdates: asking again in %.0f s", wait)
            except (TelegramNetworkError, TelegramServerError) as error:
                attempt += 1
                wait = backoff(attempt)
                self.outage.failed(error)
            else:
                self.outage.answered()
                return result
            await asyncio.sleep(wait)


async def _request(
    make_request: NextRequestMiddlewareType[TelegramType],
    bot: Bot,
    method: TelegramMethod[TelegramType],
) -> Response[TelegramType]:
    """The call, with a proxy's connection failure told as aiogram tells a direct one."""
    try:
        return await make_request(bot, method)
    except _PROXY_ERRORS as error:
        message = f"{type(error).__name__}: {error}"
        raise TelegramNetworkError(method=method, message=message) from error
