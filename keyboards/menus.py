"""Keyboard builders: one function per screen, taking the translator and the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonWebApp,
    WebAppInfo,
)

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    DeviceAction,
    DeviceCD,
    GrantCD,
    LanguageCD,
    LinkCD,
    MenuAction,
    MenuCD,
    RegenAction,
    RegenCD,
    ServerCD,
)
from locales import Translator

LANGUAGE_NAMES = {"ru": "🇷🇺 Русский", "en": "🇬🇧 English"}


class ServerOption(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def devices(self) -> int: ...
    @property
    def load_percent(self) -> int | None: ...


def main_menu(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("menu-get-config"), callback_data=MenuCD(action=MenuAction.CONFIG))
    builder.button(text=t("menu-devices"), callback_data=DeviceCD(action=DeviceAction.OPEN))
    builder.button(text=t("menu-server"), callback_data=MenuCD(action=MenuAction.SERVER))
    builder.button(text=t("menu-status"), callback_data=MenuCD(action=MenuAction.STATUS))
    builder.button(text=t("menu-help"), callback_data=MenuCD(action=MenuAction.HELP))
    builder.button(text=t("menu-language"), callback_data=MenuCD(action=MenuAction.LANGUAGE))
    builder.adjust(1, 1, 2, 2)
    return builder.as_markup()


def servers(
    t: Translator, options: Sequence[ServerOption], current_node_id: int | None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for option in options:
        key = "server-button-current" if option.id == current_node_id else "server-button"
        text = t(key, label=option.label, devices=option.devices)
        if option.load_percent is not None:
            text = t("server-button-load", button=text, load=str(option.load_percent))
        builder.button(text=text, callback_data=ServerCD(node_id=option.id))
    builder.adjust(1)
    return builder.as_markup()


def regen_confirm(t: Translator, device_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("regen-yes"), callback_data=RegenCD(action=RegenAction.CONFIRM, device_id=device_id)
    )
    builder.button(text=t("button-cancel"), callback_data=RegenCD(action=RegenAction.CANCEL))
    return builder.as_markup()


def languages() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for code, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageCD(language=code))
    return builder.as_markup()


def grant_access(t: Translator, user_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("admin-grant-30"), callback_data=GrantCD(user_id=user_id, days=30))
    builder.button(text=t("admin-grant-forever"), callback_data=GrantCD(user_id=user_id, days=0))
    return builder.as_markup()


def with_page(
    t: Translator, markup: InlineKeyboardMarkup | None, app_url: str | None
) -> InlineKeyboardMarkup | None:
    """`markup` with the personal page (the Mini App) as a last button, when there is a page."""
    if app_url is None:
        return markup
    button = InlineKeyboardButton(text=t("menu-page"), web_app=WebAppInfo(url=app_url))
    rows = list(markup.inline_keyboard) if markup is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [button]])


def page_menu_button(t: Translator, app_url: str) -> MenuButtonWebApp:
    """The chat's menu button that opens the personal page as a Mini App."""
    return MenuButtonWebApp(text=t("page-menu-button"), web_app=WebAppInfo(url=app_url))


def personal_link(t: Translator, link: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("link-open"), url=link)
    builder.button(text=t("link-replace"), callback_data=LinkCD())
    builder.adjust(1)
    return builder.as_markup()
