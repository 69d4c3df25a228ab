"""The Telegram side of services.notifier.Notifier: alerts to the admins, texts and configs to
users. It is also how handlers send a config, so a config looks the same wherever it comes from."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import BufferedInputFile, FSInputFile, InlineKeyboardMarkup, Message

from keyboards.menus import grant_access
from keyboards.nodes import accept_host_key
from keyboards.onboarding import plans_offer, platforms, setup_help, silent_help
from keyboards.subscribe import renew_button
from locales import DEFAULT_LANGUAGE, Translator, translator_for
from locales.format import esc, format_date
from services.clientconfig import ClientConfig
from services.notifier import AdminButtons, GrantButtons, HostKeyButton
from services.nudges import OFFER, SETUP, SILENT
from services.onboarding import CHOICES
from services.qrdrawer import QrDrawer
from services.users import UserService

log = logging.getLogger(__name__)

IN_CHAT = (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER)

CONFIGS_REMEMBERED = 10_000  # configs whose Telegram files are kept for sending again


@dataclass(frozen=True, slots=True)
class ConfigFiles:
    """Telegram's file_ids of one config's `.conf` document and QR photo, as sent before."""

    document: str
    photo: str


class SentConfigs:
    """The files of the configs this process sent lately, by a hash of the config text (never
    the text: it holds the private key). The same config goes again by file_id, so its QR code
    is drawn once and nothing is uploaded twice; new keys or routes make a new text, a new hash.
    Bounded: the oldest are forgotten first, and a restart forgets all (each is then sent once
    more as a file)."""

    def __init__(self, most: int = CONFIGS_REMEMBERED) -> None:
        self._most = most
        self._files: OrderedDict[bytes, ConfigFiles] = OrderedDict()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha256(text.encode()).digest()

    def get(self, key: bytes) -> ConfigFiles | None:
        files = self._files.get(key)
        if files is not None:
            self._files.move_to_end(key)
        return files

    def put(self, key: bytes, files: ConfigFiles) -> None:
        self._files[key] = files
        self._files.move_to_end(key)
        while len(self._files) > self._most:
            self._files.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._files.pop(key, None)


class TelegramNotifier:
    def __init__(
        self, bot: Bot, users: UserService, alerts_chat_id: int | None, qr: QrDrawer
    ) -> None:
        self._bot = bot
        self._users = users
        self._alerts_chat_id = alerts_chat_id
        self._qr = qr
        self.sent_configs = SentConfigs()

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
        """The document and the QR photo, then an AmneziaWG config's vpn:// key; with `guide`,
        the platform buttons under the last of them. The files go by the file_ids of an earlier
        send of this very config when there was one (Telegram refusing one means they are sent
        as files again), else as files, the QR code drawn by the QR process while the document
        goes."""
        vpn_key = config.amnezia_key
        markup = platforms(CHOICES) if guide else None
        amnezia = bool(config.obfuscation)
        document_caption = t(
            "config-document-caption-awg" if amnezia else "config-document-caption",
            node=esc(config.node_name),
        )
        photo_caption = t("config-qr-caption-awg" if amnezia else "config-qr-caption")
        if guide and not vpn_key:
            photo_caption = f"{photo_caption}\n{t('setup-choose')}"
        photo_markup = None if vpn_key else markup
        if not await self._send_again(
            chat_id, config.text, document_caption, photo_caption, photo_markup
        ):
            png = asyncio.create_task(self._qr.png(config.text))
            try:
                document = await self._bot.send_document(
                    chat_id,
                    BufferedInputFile(config.text.encode(), filename=config.filename),
                    caption=document_caption,
                )
                photo = await self._bot.send_photo(
                    chat_id,
                    BufferedInputFile(await png, filename=f"{config.node_name}.png"),
                    caption=photo_caption,
                    reply_markup=photo_markup,
                )
            finally:
                png.cancel()  # done already, unless the document failed
            files = _file_ids(document, photo)
            if files is not None:
                self.sent_configs.put(self.sent_configs.key(config.text), files)
        if vpn_key:
            note = t("config-amnezia-key", key=vpn_key)
            if guide:
                note = f"{note}\n{t('setup-choose')}"
            await self._bot.send_message(chat_id, note, reply_markup=markup)

    async def _send_again(
        self,
        chat_id: int,
        text: str,
        document_caption: str,
        photo_caption: str,
        markup: InlineKeyboardMarkup | None,
    ) -> bool:
        """Whether the config's files went by the file_ids of an earlier send of this text."""
        key = self.sent_configs.key(text)
        before = self.sent_configs.get(key)
        if before is None:
            return False
        try:
            await self._bot.send_document(chat_id, before.document, caption=document_caption)
            await self._bot.send_photo(
                chat_id, before.photo, caption=photo_caption, reply_markup=markup
            )
        except TelegramBadRequest as error:
            log.info("config files sent before were refused (%s): sent anew", error.message)
            self.sent_configs.forget(key)
            return False
        return True

    async def send_link(self, user_id: int, link: str, key: str, **args: str) -> bool:
        t = await self._translator(user_id)
        text = t(key, link=esc(link), **{k: esc(v) for k, v in args.items()})
        try:
            await self._bot.send_message(user_id, text)
            png = await self._qr.png(link)
            photo = BufferedInputFile(png, filename="vless.png")
            await self._bot.send_photo(user_id, photo, caption=t("vless-qr-caption"))
        except TelegramAPIError as error:
            log.warning("link for %s not delivered: %s", user_id, error.message)
            return False
        return True

    async def to_user(
        self, user_id: int, key: str, *, button: str | None = None, **args: str | datetime | None
    ) -> bool:
        t = await self._translator(user_id)
        markup = _user_markup(t, button)
        shown = {name: _shown(value) for name, value in args.items()}
        return await self._send(user_id, t(key, **shown), markup)

    async def start_link(self, parameter: str) -> str:
        me = await self._bot.me()
        return f"https://t.me/{me.username}?start={parameter}"

    async def is_member(self, chat: str, user_id: int) -> bool | None:
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramAPIError as error:
            log.warning("membership in %s not readable: %s", chat, error.message)
            return None
        if member.status == ChatMemberStatus.RESTRICTED:
            return bool(getattr(member, "is_member", False))
        return member.status in IN_CHAT

    async def refund_stars(self, user_id: int, charge_id: str) -> str | None:
        try:
            await self._bot.refund_star_payment(user_id, charge_id)
        except TelegramAPIError as error:
            log.warning("refund of a charge of %s refused: %s", user_id, error.message)
            return error.message
        return None

    async def set_stars_subscription(self, user_id: int, charge_id: str, *, renewing: bool) -> bool:
        try:
            await self._bot.edit_user_star_subscription(user_id, charge_id, not renewing)
        except TelegramAPIError as error:
            log.warning("Stars subscription of %s not changed: %s", user_id, error.message)
            return False
        return True

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


def _file_ids(document: Message, photo: Message) -> ConfigFiles | None:
    """The file_ids Telegram gave the sent document and photo (the largest size)."""
    if document.document is None or not photo.photo:
        return None
    return ConfigFiles(document.document.file_id, photo.photo[-1].file_id)


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
