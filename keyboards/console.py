"""The admin console's callback data and keyboards: user list filters, user card, audit pages."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.menus import Tr


class ListFilter(enum.StrEnum):
    ALL = "all"
    ACTIVE = "act"
    EXPIRED = "exp"
    NO_ACCESS = "no"
    TRIAL = "tri"
    PAID = "paid"
    BLOCKED = "blk"
    BANNED = "ban"


class CardAction(enum.StrEnum):
    SHOW = "show"
    EXTEND_30 = "x30"
    EXTEND_90 = "x90"
    REVOKE = "rev"
    BAN = "ban"
    UNBAN = "unb"
    RESET = "rst"
    MESSAGE = "msg"


# What support may press on a card; every other action is for admins.
SUPPORT_ACTIONS = frozenset(
    {CardAction.SHOW, CardAction.EXTEND_30, CardAction.EXTEND_90, CardAction.MESSAGE}
)


class UsersCD(CallbackData, prefix="ul"):
    kind: ListFilter
    page: int


class CardCD(CallbackData, prefix="uc"):
    action: CardAction
    user_id: int
    ok: bool = False  # pressed on the confirmation step


class SendAction(enum.StrEnum):
    SEND = "send"
    CANCEL = "no"


class SendCD(CallbackData, prefix="um"):
    action: SendAction


class AuditCD(CallbackData, prefix="au"):
    page: int


def users_list(
    t: Tr, current: ListFilter, page: int, has_next: bool, user_ids: Iterable[int]
) -> InlineKeyboardMarkup:
    """Filters, a card button per user shown, and paging."""
    builder = InlineKeyboardBuilder()
    for kind in ListFilter:
        label = t("users-filter", filter=kind.value)
        text = f"• {label}" if kind is current else label
        builder.button(text=text, callback_data=UsersCD(kind=kind, page=0))
    cards = _card_buttons(builder, user_ids)
    pages = 0
    if page > 0:
        builder.button(
            text=t("button-previous"), callback_data=UsersCD(kind=current, page=page - 1)
        )
        pages += 1
    if has_next:
        builder.button(text=t("button-next"), callback_data=UsersCD(kind=current, page=page + 1))
        pages += 1
    builder.adjust(3, 3, *_rows_of(cards, 5), *([pages] if pages else []))
    return builder.as_markup()


def found_users(user_ids: Sequence[int]) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    cards = _card_buttons(builder, user_ids)
    builder.adjust(*_rows_of(cards, 5))
    return builder.as_markup() if cards else None


def _card_buttons(builder: InlineKeyboardBuilder, user_ids: Iterable[int]) -> int:
    count = 0
    for user_id in user_ids:
        builder.button(
            text=f"👤 {user_id}", callback_data=CardCD(action=CardAction.SHOW, user_id=user_id)
        )
        count += 1
    return count


def _rows_of(count: int, width: int) -> list[int]:
    return [width] * (count // width) + ([count % width] if count % width else [])


def user_card(
    t: Tr, user_id: int, *, admin: bool, has_access: bool, banned: bool, has_devices: bool
) -> InlineKeyboardMarkup:
    """The actions on one user that the viewer's role allows."""
    actions = [CardAction.EXTEND_30, CardAction.EXTEND_90]
    if admin:
        if has_access:
            actions.append(CardAction.REVOKE)
        actions.append(CardAction.UNBAN if banned else CardAction.BAN)
        if has_devices:
            actions.append(CardAction.RESET)
    actions.append(CardAction.MESSAGE)
    actions.append(CardAction.SHOW)
    builder = InlineKeyboardBuilder()
    for action in actions:
        builder.button(
            text=t("card-button", action=action.value),
            callback_data=CardCD(action=action, user_id=user_id),
        )
    builder.adjust(2)
    return builder.as_markup()


def card_confirm(t: Tr, action: CardAction, user_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("card-confirm-yes"), callback_data=CardCD(action=action, user_id=user_id, ok=True)
    )
    builder.button(
        text=t("button-cancel"), callback_data=CardCD(action=CardAction.SHOW, user_id=user_id)
    )
    return builder.as_markup()


def send_confirm(t: Tr) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("message-send-yes"), callback_data=SendCD(action=SendAction.SEND))
    builder.button(text=t("button-cancel"), callback_data=SendCD(action=SendAction.CANCEL))
    return builder.as_markup()


def audit_pages(t: Tr, page: int, has_next: bool) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text=t("button-previous"), callback_data=AuditCD(page=page - 1))
    if has_next:
        builder.button(text=t("button-next"), callback_data=AuditCD(page=page + 1))
    return builder.as_markup() if page > 0 or has_next else None
