"""Support buttons: write to support (under /help), end the conversation, reply to
the staff, and a user's card under their message in a staff member's chat."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    CardAction,
    CardCD,
    MenuAction,
    MenuCD,
    SupportAction,
    SupportCD,
)
from locales import Translator

CARD_LABEL_MAX = 48


def support_button(t: Translator) -> InlineKeyboardMarkup:
    """ "Write to support": the conversation opens and the next messages go to the staff."""
    builder = InlineKeyboard()
    builder.button(text=t("support-button"), callback_data=MenuCD(action=MenuAction.SUPPORT))
    return builder.as_markup()


def write_button(t: Translator) -> InlineKeyboardMarkup:
    """Under a staff reply when the conversation is closed: reply, which opens it again."""
    builder = InlineKeyboard()
    builder.button(text=t("support-reply-button"), callback_data=MenuCD(action=MenuAction.SUPPORT))
    return builder.as_markup()


def support_done(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("support-done-button"), callback_data=SupportCD(action=SupportAction.DONE)
    )
    return builder.as_markup()


def user_card_button(user_id: int, name: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    label = name if len(name) <= CARD_LABEL_MAX else name[: CARD_LABEL_MAX - 1] + "…"
    builder.button(
        text=f"👤 {label} · {user_id}",
        callback_data=CardCD(action=CardAction.OPEN, user_id=user_id),
    )
    return builder.as_markup()
