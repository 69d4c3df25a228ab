"""Set-up buttons (one per platform, the links to a platform's apps) and the nudges' buttons."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import AccountAction, AccountCD, MenuAction, MenuCD, SetupCD
from locales import Translator


def platforms(choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per platform (key, name): the two phones, then the three desktops."""
    builder = InlineKeyboard()
    for key, name in choices:
        builder.button(text=name, callback_data=SetupCD(platform=key))
    builder.adjust(2, 3)
    return builder.as_markup()


def app_links(t: Translator, apps: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """A link button per app (name, URL)."""
    builder = InlineKeyboard()
    for name, url in apps:
        builder.button(text=t("setup-app-button", app=name), url=url)
    builder.adjust(1)
    return builder.as_markup()


def setup_help(t: Translator, choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Under /help and the set-up nudge: the platforms, then "Write to support"."""
    builder = InlineKeyboard.from_markup(platforms(choices))
    builder.row(_support_button(t))
    return builder.as_markup()


def silent_help(t: Translator) -> InlineKeyboardMarkup:
    """Under "is something wrong?": support, or another server."""
    builder = InlineKeyboard()
    builder.row(_support_button(t))
    server = MenuCD(action=MenuAction.SERVER).pack()
    builder.row(InlineKeyboardButton(text=t("nudge-change-server"), callback_data=server))
    return builder.as_markup()


def plans_offer(t: Translator) -> InlineKeyboardMarkup:
    """Under the offer after a trial: the plans."""
    builder = InlineKeyboard()
    builder.button(
        text=t("nudge-plans-button"), callback_data=AccountCD(action=AccountAction.PLANS)
    )
    return builder.as_markup()


def _support_button(t: Translator) -> InlineKeyboardButton:
    support = MenuCD(action=MenuAction.SUPPORT).pack()
    return InlineKeyboardButton(text=t("support-button"), callback_data=support)
