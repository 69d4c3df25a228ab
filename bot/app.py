"""Composition root: the Bot and the Dispatcher over the services, run until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

import handlers
from bot import yookassa_webhook
from bot.broadcast_sender import TelegramBroadcastSender, setup_broadcasts
from bot.container import Services, open_services
from bot.fsm_storage import DatabaseStorage
from bot.middlewares import UserContextMiddleware, UserTouchMiddleware
from bot.notifier import TelegramNotifier
from bot.scheduler import create_scheduler
from bot.settings import Settings
from bot.telegram_calls import create_session, flow_control
from bot.telegram_webhook import TelegramWebhook
from bot.throttle import ThrottleMiddleware
from bot.web import create_web_app, start_web
from handlers.commands import set_commands
from services.pacing import TELEGRAM_RATE_LIMIT, Pacer

log = logging.getLogger(__name__)

DRAIN_SECONDS = 20.0  # after SIGTERM in webhook mode, how long updates in hand may still run


def create_bot(settings: Settings) -> Bot:
    """The Bot over a session that paces its messages and waits out 429s."""
    session = create_session(
        settings.telegram_api_url, Pacer(TELEGRAM_RATE_LIMIT, bulk_rate=settings.broadcast_rate)
    )
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def connect(services: Services, bot: Bot) -> TelegramNotifier:
    """Give the services the Telegram adapters they call back through: the notifier (alerts,
    texts and configs), the broadcast sender, and the bot's pacer, so that broadcasts take
    only what answers to users leave."""
    notifier = TelegramNotifier(bot, services.users, services.settings.alerts_chat_id)
    services.set_notifier(notifier)
    services.broadcasts.sender = TelegramBroadcastSender(bot, services.users)
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
    )
    # Read, refuse the banned, throttle, and only then write: a flood costs no write.
    dispatcher.update.outer_middleware(UserContextMiddleware(services.users))
    dispatcher.update.outer_middleware(
        ThrottleMiddleware(
            services.settings.throttle_rate,
            services.settings.throttle_window,
            services.settings.throttle_cooldown,
            clock=services.users.clock,
        )
    )
    dispatcher.update.outer_middleware(UserTouchMiddleware(services.users))
    handlers.setup(dispatcher)
    setup_broadcasts(dispatcher, services.broadcasts)
    return dispatcher


async def run(settings: Settings) -> None:
    """Run the bot, its web server and its scheduler until SIGINT or SIGTERM, then close all.
    Updates come by long polling or, with BOT_MODE=webhook, to POST /webhooks/telegram."""
    services = await open_services(settings)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(services, bot)
    web_app = create_web_app(services.engine)
    yookassa_webhook.register(
        web_app, services.payments, settings.yookassa_allowed_ips, settings.web_trusted_proxies
    )
    webhook = None
    if settings.bot_mode == "webhook":
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        webhook = TelegramWebhook(dispatcher, bot, secret)
        webhook.register(web_app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = await start_web(web_app, settings.web_host, settings.web_port)
    scheduler = create_scheduler(services)
    try:
        await set_commands(bot)
        me = await bot.get_me()
        services.payments.default_return_url(f"https://t.me/{me.username}")
        scheduler.start()
        if webhook is None:
            log.info("bot @%s started, polling", me.username)
            await _poll(bot, dispatcher, stop)
        else:
            await _serve_webhook(bot, dispatcher, webhook, settings.webhook_url, stop)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await runner.cleanup()
        await bot.session.close()
        await services.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        log.info("stopped")


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
