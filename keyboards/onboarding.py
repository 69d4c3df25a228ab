"""Set-up buttons: one per platform, and the links to a platform's apps."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.callbacks import SetupCD
from locales import Translator


def platforms(choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per platform (key, name): the two phones, then the three desktops."""
    builder = InlineKeyboardBuilder()
    for key, name in choices:
        builder.button(text=name, callback_data=SetupCD(platform=key))
    builder.adjust(2, 3)
    return builder.as_markup()


def app_links(t: Translator, apps: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """A link button per app (name, URL)."""
    builder = InlineKeyboardBuilder()
    for name, url in apps:
        builder.button(text=t("setup-app-button", app=name), url=url)
    builder.adjust(1)
    return builder.as_markup()
