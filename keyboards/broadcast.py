"""Broadcast buttons: the draft's buttons, the audience, send or cancel, stop; and the buttons a
broadcast carries to its recipients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    AccountAction,
    AccountCD,
    BroadcastAction,
    BroadcastCD,
    MenuAction,
    MenuCD,
)
from locales import Translator

READY_BUTTONS = {"config": "menu-get-config", "renew": "renew-button"}  # kind: its title


class ButtonLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "url", "config" or "renew"
    @property
    def url(self) -> str: ...


def broadcast_buttons(buttons: Sequence[ButtonLike]) -> InlineKeyboardMarkup | None:
    """Under a broadcast, one per row: links, and "Get config" and "Renew" as the menu's."""
    builder = InlineKeyboard()
    for button in buttons:
        if button.kind == "config":
            builder.button(text=button.title, callback_data=MenuCD(action=MenuAction.CONFIG))
        elif button.kind == "renew":
            builder.button(text=button.title, callback_data=AccountCD(action=AccountAction.PLANS))
        else:
            builder.button(text=button.title, url=button.url)
    builder.adjust(1)
    return builder.as_markup() if buttons else None


def _cancel(builder: InlineKeyboard, t: Translator) -> None:
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )


def broadcast_cancel(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    _cancel(builder, t)
    return builder.as_markup()


def broadcast_button_editor(t: Translator, count: int, most: int) -> InlineKeyboardMarkup:
    """Under the draft's buttons: add a ready one (while there is room), remove them, go on."""
    builder = InlineKeyboard()
    if count < most:
        for kind, title in READY_BUTTONS.items():
            builder.button(
                text=t("broadcast-add-button", title=t(title)),
                callback_data=BroadcastCD(action=BroadcastAction.BUTTON, value=kind),
            )
    if count:
        builder.button(
            text=t("broadcast-clear-buttons"),
            callback_data=BroadcastCD(action=BroadcastAction.CLEAR),
        )
    builder.button(text=t("broadcast-next"), callback_data=BroadcastCD(action=BroadcastAction.NEXT))
    _cancel(builder, t)
    builder.adjust(1)
    return builder.as_markup()


def broadcast_audiences(
    t: Translator, choices: Sequence[tuple[BroadcastAction, str, str, str]]
) -> InlineKeyboardMarkup:
    """A button per choice (its action, audience, value and label), then Cancel."""
    builder = InlineKeyboard()
    for action, audience, value, label in choices:
        builder.button(
            text=label, callback_data=BroadcastCD(action=action, audience=audience, value=value)
        )
    _cancel(builder, t)
    builder.adjust(1)
    return builder.as_markup()


def broadcast_back(t: Translator) -> InlineKeyboardMarkup:
    """Back to the audiences, or cancel."""
    builder = InlineKeyboard()
    builder.button(text=t("broadcast-back"), callback_data=BroadcastCD(action=BroadcastAction.NEXT))
    _cancel(builder, t)
    return builder.as_markup()


def broadcast_confirm(t: Translator, audience: str, value: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("broadcast-send"),
        callback_data=BroadcastCD(action=BroadcastAction.SEND, audience=audience, value=value),
    )
    _cancel(builder, t)
    return builder.as_markup()


def broadcast_stop(t: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    """Under the progress of a running broadcast."""
    builder = InlineKeyboard()
    builder.button(
        text=t("broadcast-stop"),
        callback_data=BroadcastCD(action=BroadcastAction.STOP, broadcast_id=broadcast_id),
    )
    return builder.as_markup()
