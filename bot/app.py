"""Composition root: the Bot and the Dispatcher over the services, run until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import time
from collections.abc import Awaitable
from typing import TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import User as TelegramUser
from aiohttp import web

import handlers
from bot import yookassa_webhook
from bot.backoff import backoff
from bot.broadcast_sender import TelegramBroadcastSender, setup_broadcasts
from bot.container import DatabaseUnreachable, Services, open_services
from bot.fsm_storage import DatabaseStorage
from bot.instruments import time_handlers
from bot.metrics import record_database, record_intervals
from bot.middlewares import UserContextMiddleware, UserTouchMiddleware
from bot.notifier import TelegramNotifier
from bot.outages import PollingWaitsForDatabase, register_outage_errors
from bot.page import register_page, set_menu_button
from bot.scheduler import create_scheduler
from bot.settings import Settings, SettingsError
from bot.support_relay import TelegramSupportRelay
from bot.telegram_calls import create_session, flow_control
from bot.telegram_webhook import TelegramWebhook
from bot.throttle import ThrottleMiddleware
from bot.web import create_web_app, start_web
from handlers.commands import set_commands
from services.pacing import TELEGRAM_RATE_LIMIT, Pacer

log = logging.getLogger(__name__)

DRAIN_SECONDS = 20.0  # after SIGTERM in webhook mode, how long updates in hand may still run
T = TypeVar("T")


def create_bot(settings: Settings) -> Bot:
    """The Bot over a session that paces, waits out 429s and outages, and uses the proxy."""
    proxy = settings.telegram_proxy.get_secret_value() if settings.telegram_proxy else None
    session = create_session(
        settings.telegram_api_url,
        Pacer(TELEGRAM_RATE_LIMIT, bulk_rate=settings.broadcast_rate),
        proxy,
        settings.telegram_proxy_shown,
    )
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def connect(services: Services, bot: Bot) -> TelegramNotifier:
    """Give the services the Telegram adapters they call back through: the notifier (alerts,
    texts and configs), the broadcast sender, the support relay, and the bot's pacer, so that
    broadcasts take only what answers to users leave."""
    notifier = TelegramNotifier(bot, services.users, services.settings.alerts_chat_id, services.qr)
    services.set_notifier(notifier)
    services.broadcasts.sender = TelegramBroadcastSender(bot, services.users)
    services.support.relay = TelegramSupportRelay(bot)
    services.broadcasts.pacer = flow_control(bot).pacer
    return notifier


def conversation_storage(services: Services) -> BaseStorage:
    """Where multi-step flows keep their state. PostgreSQL may serve several processes: in the
    database, so whichever process takes a flow's next step finds it. SQLite serves one
    process by design: in memory, since the database would cost every update one more read
    (measured through the Dispatcher on SQLite: a median of 38.8 ms per update against
    33.7 ms, +15 %); a restart then forgets a flow in progress, such as a rename."""
    if services.engine.dialect.name == "postgresql":
        return DatabaseStorage(services.sessions, services.users.clock)
    return MemoryStorage()


def create_dispatcher(services: Services, bot: Bot) -> Dispatcher:
    """The Dispatcher over the services, with the bot's adapters connected."""
    dispatcher = Dispatcher(
        storage=conversation_storage(services),
        notifier=connect(services, bot),
        users=services.users,
        devices=services.devices,
        placement=services.placement,
        fleet=services.fleet,
        foreign=services.foreign,
        reconcile=services.reconcile,
        moves=services.moves,
        broadcasts=services.broadcasts,
        console=services.console,
        invites=services.invites,
        audit=services.audit,
        backups=services.backups,
        stats=services.stats,
        subscriptions=services.subscriptions,
        payments=services.payments,
        endpoints=services.endpoints,
        pages=services.pages,
        promos=services.promos,
        campaigns=services.campaigns,
        gifts=services.gifts,
        support=services.support,
        vless=services.vless,
        game_pings=services.game_pings,
        onboarding=services.onboarding,
        qr=services.qr,
    )
    # Read, refuse the banned, throttle, and only then write: a flood costs no write.
    dispatcher.update.outer_middleware(
        UserContextMiddleware(services.users, services.settings.support_chat_id)
    )
    dispatcher.update.outer_middleware(
        ThrottleMiddleware(
            services.settings.throttle_rate,
            services.settings.throttle_window,
            services.settings.throttle_cooldown,
            clock=services.users.clock,
        )
    )
    dispatcher.update.outer_middleware(UserTouchMiddleware(services.users))
    register_outage_errors(dispatcher, services.database)
    handlers.setup(dispatcher)
    time_handlers(dispatcher)
    setup_broadcasts(dispatcher, services.broadcasts)
    return dispatcher


async def run(settings: Settings) -> None:
    """Run the bot, its web server and its scheduler until SIGINT or SIGTERM, then close all.
    Updates come by long polling or, with BOT_MODE=webhook, to POST /webhooks/telegram. A
    database or a Telegram that does not answer yet is waited for; what waiting cannot mend
    (a refused token, a taken port) is a SettingsError."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        services = await _unless_stopped(stop, _open_services(settings))
        if services is None:
            return
        try:
            await _serve(settings, services, stop)
        finally:
            await services.close()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _serve(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    bot = create_bot(settings)
    try:
        dispatcher = create_dispatcher(services, bot)
        record_intervals(settings.health_interval, settings.backup_interval_hours)
        web_app = create_web_app(
            services.engine, lambda: record_database(services.stats, services.backups)
        )
        yookassa_webhook.register(
            web_app, services.payments, settings.yookassa_allowed_ips, settings.web_trusted_proxies
        )
        webhook = None
        if settings.bot_mode == "webhook":
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
            webhook = TelegramWebhook(dispatcher, bot, secret, ready=lambda: services.database.up)
            webhook.register(web_app)
        else:
            bot.session.middleware(PollingWaitsForDatabase(services.database))
        register_page(web_app, services, bot)
        runner = await _listen(web_app, settings)
        try:
            me = await _unless_stopped(stop, _meet_telegram(bot, settings))
            if me is None:
                return
            await set_commands(bot)
            await set_menu_button(bot, services)
            services.payments.default_return_url(f"https://t.me/{me.username}")
            services.database.on_back(services.broadcasts.resume)
            scheduler = create_scheduler(services)
            scheduler.start()
            await services.qr.start()
            try:
                if settings.telegram_proxy is not None:
                    log.info("Telegram through the proxy %s", settings.telegram_proxy_shown)
                if webhook is None:
                    log.info("bot @%s started, polling", me.username)
                    await _poll(bot, dispatcher, stop)
                else:
                    await _serve_webhook(bot, dispatcher, webhook, settings.webhook_url, stop)
            finally:
                scheduler.shutdown(wait=False)
        finally:
            await runner.cleanup()
    finally:
        await bot.session.close()
    log.info("stopped")


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None when asked to stop first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def _open_services(settings: Settings) -> Services:
    """The services, once the database answers: while it does not, one line and a retry with
    backoff; a database that refuses us (a password, a name) is a SettingsError."""
    since: float | None = None
    attempt = 0
    while True:
        try:
            services = await open_services(settings)
        except DatabaseUnreachable as error:
            if since is None:
                since = time.monotonic()
                log.warning(
                    "%s: check that the database server runs and this host reaches it; "
                    "retrying with backoff",
                    error,
                )
            attempt += 1
            await asyncio.sleep(backoff(attempt))
            continue
        if since is not None:
            log.warning("database answers after %.0f s", time.monotonic() - since)
        return services


async def _listen(app: web.Application, settings: Settings) -> web.AppRunner:
    where = f"{settings.web_host}:{settings.web_port}"
    try:
        return await start_web(app, settings.web_host, settings.web_port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise SettingsError(
                f"WEB_PORT: {where} is already in use (another program, or the bot already "
                "running): stop it, or set WEB_PORT to a free port"
            ) from None
        reason = error.strerror or type(error).__name__
        raise SettingsError(
            f"WEB_HOST: cannot listen on {where} ({reason}): use an address of this machine, "
            "such as 127.0.0.1"
        ) from None


async def _meet_telegram(bot: Bot, settings: Settings) -> TelegramUser:
    """The bot's own account: asked until Telegram answers (the session says once that it
    does not); a refused token or a wrong URL is a SettingsError."""
    attempt = 0
    while True:
        try:
            return await bot.me()
        except TelegramUnauthorizedError:
            raise SettingsError(
                "BOT_TOKEN: Telegram refuses this token (401 Unauthorized): copy it again from "
                "@BotFather (/mybots, API Token); a revoked token stops working at once"
            ) from None
        except TelegramNotFound:
            raise SettingsError(
                f"TELEGRAM_API_URL: {settings.telegram_api_url} has no Bot API (404 Not "
                "Found): leave it unset for https://api.telegram.org"
            ) from None
        except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as error:
            flow_control(bot).outage.failed(error)
            attempt += 1
            await asyncio.sleep(backoff(attempt))


async def _poll(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    await bot.delete_webhook(drop_pending_updates=False)

    async def stop_when_asked() -> None:
        await stop.wait()
        await dispatcher.stop_polling()

    # Created before polling starts, runs after: polling is always running when it asks.
    stopper = asyncio.create_task(stop_when_asked())
    try:
        await dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    finally:
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper


async def _serve_webhook(
    bot: Bot, dispatcher: Dispatcher, webhook: TelegramWebhook, url: str, stop: asyncio.Event
) -> None:
    """Start up as polling would, point Telegram here, take updates until asked to stop.
    The webhook stays set at the end: another process behind the address may go on."""
    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    await dispatcher.emit_startup(bot=bot, **workflow)
    try:
        try:
            await bot.set_webhook(
                url=url,
                secret_token=webhook.secret,
                allowed_updates=dispatcher.resolve_used_update_types(),
                drop_pending_updates=False,
            )
        except TelegramBadRequest as error:
            raise ValueError(f"WEBHOOK_URL: Telegram refused it: {error.message}") from None
        webhook.open()
        log.info("bot started, Telegram posts updates to %s", url)
        await stop.wait()
        await webhook.close(DRAIN_SECONDS)
    finally:
        await dispatcher.emit_shutdown(bot=bot, **workflow)
