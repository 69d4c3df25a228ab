"""Composition root: the Bot and the Dispatcher over the services, and polling until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

import handlers
from bot.container import Services, open_services
from bot.middlewares import UserContextMiddleware
from bot.notifier import TelegramNotifier
from bot.scheduler import create_scheduler
from bot.settings import Settings
from bot.throttle import ThrottleMiddleware
from bot.web import create_web_app, start_web
from handlers.broadcast_sender import setup_broadcasts
from handlers.commands import set_commands

log = logging.getLogger(__name__)


def create_bot(settings: Settings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_dispatcher(services: Services) -> Dispatcher:
    dispatcher = Dispatcher(
        settings=services.settings,
        users=services.users,
        devices=services.devices,
        nodes=services.nodes,
        reconcile=services.reconcile,
        moves=services.moves,
        broadcasts=services.broadcasts,
        console=services.console,
        invites=services.invites,
        audit=services.audit,
        backups=services.backups,
        stats=services.stats,
    )
    dispatcher.update.outer_middleware(UserContextMiddleware(services.users))
    dispatcher.update.outer_middleware(
        ThrottleMiddleware(
            services.settings.throttle_rate,
            services.settings.throttle_window,
            services.settings.throttle_cooldown,
            clock=services.users.clock,
        )
    )
    handlers.setup(dispatcher)
    setup_broadcasts(dispatcher, services.broadcasts, services.users)
    return dispatcher


async def run_polling(settings: Settings) -> None:
    """Run the bot, its web server and its scheduler until SIGINT or SIGTERM, then close all."""
    services = await open_services(settings)
    bot = create_bot(settings)
    services.set_notifier(TelegramNotifier(bot, services.users, settings.alerts_chat_id))
    dispatcher = create_dispatcher(services)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(dispatcher.stop_polling()))
    runner = await start_web(create_web_app(services.engine), settings.web_host, settings.web_port)
    scheduler = create_scheduler(services)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await set_commands(bot)
        me = await bot.get_me()
        scheduler.start()
        log.info("bot @%s started, polling", me.username)
        await dispatcher.start_polling(bot, handle_signals=False, close_bot_session=True)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await runner.cleanup()
        await services.close()
        log.info("stopped")
