"""The Telegram side of services.notifier.Notifier: alerts to the admins, texts and configs to
users. It is also how handlers send a config, so a config looks the same wherever it comes from."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, FSInputFile, InlineKeyboardMarkup

from keyboards.menus import grant_access
from keyboards.nodes import accept_host_key
from keyboards.onboarding import plans_offer, platforms, setup_help, silent_help
from keyboards.subscribe import renew_button
from locales import DEFAULT_LANGUAGE, Translator, translator_for
from locales.format import esc, format_date
from services.clientconfig import ClientConfig, qr_png
from services.notifier import AdminButtons, GrantButtons, HostKeyButton
from services.nudges import OFFER, SETUP, SILENT
from services.onboarding import CHOICES
from services.users import UserService

log = logging.getLogger(__name__)


class TelegramNotifier:
    def __init__(self, bot: Bot, users: UserService, alerts_chat_id: int | None) -> None:
        self._bot = bot
        self._users = users
        self._alerts_chat_id = alerts_chat_id

    async def to_admins(
        self, key: str, *, buttons: AdminButtons | None = None, **args: str
    ) -> None:
        """To the alerts chat when one is set, else to every admin in their language. A text
        with buttons goes to each admin's own chat: buttons work only in private chats."""
        safe = {name: esc(value) for name, value in args.items()}
        if self._alerts_chat_id is not None and buttons is None:
            await self._send(self._alerts_chat_id, translator_for(DEFAULT_LANGUAGE)(key, **safe))
            return
        for admin in await self._users.admins():
            t = translator_for(admin.language)
            await self._send(admin.id, t(key, **safe), _markup(t, buttons))

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

    async def send_config(
        self,
        user_id: int,
        config: ClientConfig,
        key: str | None = None,
        *,
        guide: bool = False,
        **args: str,
    ) -> bool:
        """A text when `key` is given, then the config: the `.conf` as a document named after
        the node, a QR code of the same text and, for AmneziaWG, the vpn:// key that holds it;
        the set-up platforms under the last of them when `guide`."""
        t = await self._translator(user_id)
        try:
            if key is not None:
                await self._bot.send_message(
                    user_id, t(key, **{k: esc(v) for k, v in args.items()})
                )
            await self._send_config_files(user_id, config, t, guide)
        except TelegramAPIError as error:
            log.warning("config for %s not delivered: %s", user_id, error.message)
            return False
        return True

    async def _send_config_files(
        self, chat_id: int, config: ClientConfig, t: Translator, guide: bool
    ) -> None:
        text = config.text
        amnezia = bool(config.obfuscation)
        vpn_key = config.amnezia_key
        markup = platforms(CHOICES) if guide else None
        await self._bot.send_document(
            chat_id,
            BufferedInputFile(text.encode(), filename=config.filename),
            caption=t(
                "config-document-caption-awg" if amnezia else "config-document-caption",
                node=esc(config.node_name),
            ),
        )
        png = await asyncio.to_thread(qr_png, text)
        caption = t("config-qr-caption-awg" if amnezia else "config-qr-caption")
        await self._bot.send_photo(
            chat_id,
            BufferedInputFile(png, filename=f"{config.node_name}.png"),
            caption=f"{caption}\n{t('setup-choose')}" if guide and not vpn_key else caption,
            reply_markup=None if vpn_key else markup,
        )
        if vpn_key:
            note = t("config-amnezia-key", key=vpn_key)
            if guide:
                note = f"{note}\n{t('setup-choose')}"
            await self._bot.send_message(chat_id, note, reply_markup=markup)

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        t = await self._translator(user_id)
        markup = _user_markup(t, button)
        shown = {name: _shown(value) for name, value in args.items()}
        return await self._send(user_id, t(key, **shown), markup)

    async def _translator(self, user_id: int) -> Translator:
        user = await self._users.get(user_id)
        return translator_for(user.language if user else None)

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> bool:
        try:
            await self._bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramAPIError as error:
            log.info("message to %s not delivered: %s", chat_id, error.message)
            return False
        return True


def _user_markup(t: Translator, button: str | None) -> InlineKeyboardMarkup | None:
    if button == "renew":
        return renew_button(t)
    if button == SETUP:
        return setup_help(t, CHOICES)
    if button == SILENT:
        return silent_help(t)
    if button == OFFER:
        return plans_offer(t)
    return None


def _markup(t: Translator, buttons: AdminButtons | None) -> InlineKeyboardMarkup | None:
    if isinstance(buttons, GrantButtons):
        return grant_access(t, buttons.user_id)
    if isinstance(buttons, HostKeyButton):
        return accept_host_key(t, buttons.node_id, buttons.fingerprint)
    return None


def _shown(value: str | datetime | None) -> str:
    if value is None:
        return "-"
    return format_date(value) if isinstance(value, datetime) else esc(value)
