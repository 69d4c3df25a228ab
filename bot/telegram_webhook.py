"""POST /webhooks/telegram: updates Telegram pushes, checked by the secret header, run as tasks."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/webhooks/telegram"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramWebhook:
    """Answers Telegram as soon as an update is checked and runs it as a task, as aiogram's
    polling does: Telegram re-sends an update whose answer comes late, so a slow handler (a
    node being set up) must not hold the answer back."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        secret: str,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret token")
        self._dispatcher = dispatcher
        self._bot = bot
        self._secret = secret.encode()
        self._ready = ready
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = False

    @property
    def secret(self) -> str:
        """For setWebhook's secret_token: Telegram sends it back in HEADER."""
        return self._secret.decode()

    def register(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle)

    def open(self) -> None:
        """Take updates from now on; until then (and after close, and while `ready` says no:
        the database is away) Telegram gets 503 and delivers the update again later, maybe to
        another process behind the same address."""
        self._accepting = True

    async def close(self, grace: float) -> None:
        """Stop taking updates; let those being handled finish within `grace` seconds."""
        self._accepting = False
        running = set(self._tasks)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        if late:
            log.warning("%d updates still running after %.0f s: cancelled", len(late), grace)
            for task in late:
                task.cancel()
            await asyncio.wait(late)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(HEADER, "").encode("utf-8", "backslashreplace")
        if not hmac.compare_digest(given, self._secret):
            log.warning("no valid secret token from %s", request.remote)
            return web.Response(status=401, text="unauthorized")
        if not (self._accepting and self._ready()):
            return web.Response(status=503, text="not taking updates now")
        body = await request.read()
        try:
            update = Update.model_validate(json.loads(body), context={"bot": self._bot})
        except (ValueError, RecursionError):  # not JSON, or JSON that is not an Update
            log.warning("%d bytes from %s that are not an update", len(body), request.remote)
            return web.Response(status=400, text="not an update")
        task = asyncio.create_task(self._process(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _process(self, update: Update) -> None:
        try:
            result = await self._dispatcher.feed_update(self._bot, update)
            if isinstance(result, TelegramMethod):  # a handler that returns its answer
                await self._dispatcher.silent_call_request(self._bot, result)
        except Exception:  # logged like polling does; the next update goes on
            log.exception("update %d failed", update.update_id)
