"""Broadcast buttons: the group to send to, then send or cancel."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.callbacks import BroadcastAction, BroadcastCD
from locales import Translator


def broadcast_cancel(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    return builder.as_markup()


def broadcast_audiences(t: Translator, choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """A button per audience (its value, its label with the count), then Cancel."""
    builder = InlineKeyboardBuilder()
    for audience, label in choices:
        builder.button(
            text=label,
            callback_data=BroadcastCD(action=BroadcastAction.AUDIENCE, audience=audience),
        )
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    builder.adjust(1)
    return builder.as_markup()


def broadcast_confirm(t: Translator, audience: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("broadcast-send"),
        callback_data=BroadcastCD(action=BroadcastAction.SEND, audience=audience),
    )
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    return builder.as_markup()
