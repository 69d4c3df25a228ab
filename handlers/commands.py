"""The menus Telegram shows: user commands in ru and en, admin commands in admins' chats, and
the menu button that opens the personal page."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from handlers.filters import ADMIN_COMMANDS
from keyboards.menus import page_menu_button
from locales import DEFAULT_LANGUAGE, LANGUAGES, Translator, translator_for

log = logging.getLogger(__name__)

USER_COMMANDS = (
    "start",
    "get_config",
    "devices",
    "server",
    "vless",
    "status",
    "subscribe",
    "promo",
    "referral",
    "link",
    "regen",
    "language",
    "support",
    "help",
)


def command_list(language: str, *, admin: bool = False) -> list[BotCommand]:
    t = translator_for(language)
    names = USER_COMMANDS + ADMIN_COMMANDS if admin else USER_COMMANDS
    return [
        BotCommand(command=name, description=t(f"cmd-{name.replace('_', '-')}")) for name in names
    ]


async def set_commands(bot: Bot) -> None:
    """Set the menu for everyone: Russian by default, English for `en` clients."""
    for language in LANGUAGES:
        await bot.set_my_commands(
            command_list(language),
            scope=BotCommandScopeDefault(),
            language_code=None if language == DEFAULT_LANGUAGE else language,
        )


async def set_admin_commands(bot: Bot, chat_id: int, language: str) -> None:
    """Add the admin commands to one admin's menu; a failure only costs the menu."""
    try:
        await bot.set_my_commands(
            command_list(language, admin=True), scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramAPIError as error:
        log.info("admin menu for %s not set: %s", chat_id, error.message)


async def set_page_menu(bot: Bot, app_url: str, t: Translator, chat_id: int | None = None) -> None:
    """The menu button opens the personal page as a Mini App: for every chat (`chat_id` None)
    or one chat, with the text in `t`'s language; a failure only costs the button."""
    try:
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=page_menu_button(t, app_url))
    except TelegramAPIError as error:
        log.info("page menu button for %s not set: %s", chat_id or "all chats", error.message)
