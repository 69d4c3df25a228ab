"""Broadcast buttons: the group to send to, then send or cancel."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.menus import Tr


class BroadcastAction(enum.StrEnum):
    AUDIENCE = "a"
    SEND = "ok"
    CANCEL = "no"


class AudienceChoice(enum.StrEnum):
    """The same values as db.models.BroadcastAudience."""

    ALL = "all"
    ACCESS = "access"
    NO_ACCESS = "no_access"


class BroadcastCD(CallbackData, prefix="bc"):
    action: BroadcastAction
    audience: AudienceChoice = AudienceChoice.ALL


AUDIENCE_BUTTONS = {
    AudienceChoice.ALL: "broadcast-audience-all",
    AudienceChoice.ACCESS: "broadcast-audience-access",
    AudienceChoice.NO_ACCESS: "broadcast-audience-no-access",
}


def broadcast_cancel(t: Tr) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    return builder.as_markup()


def broadcast_audiences(t: Tr, counts: Mapping[AudienceChoice, int]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for choice, key in AUDIENCE_BUTTONS.items():
        builder.button(
            text=t(key, count=str(counts.get(choice, 0))),
            callback_data=BroadcastCD(action=BroadcastAction.AUDIENCE, audience=choice),
        )
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    builder.adjust(1)
    return builder.as_markup()


def broadcast_confirm(t: Tr, audience: AudienceChoice) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("broadcast-send"),
        callback_data=BroadcastCD(action=BroadcastAction.SEND, audience=audience),
    )
    builder.button(
        text=t("button-cancel"), callback_data=BroadcastCD(action=BroadcastAction.CANCEL)
    )
    return builder.as_markup()
