"""The console's keyboards: the user list with its filters, the user card, audit pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    AuditCD,
    CardAction,
    CardCD,
    SendAction,
    SendCD,
    UsersCD,
)
from locales import Translator


def users_list(
    t: Translator,
    filters: Sequence[str],
    current: str,
    page: int,
    has_next: bool,
    user_ids: Iterable[int],
) -> InlineKeyboardMarkup:
    """Filters, a card button per user shown, and paging."""
    builder = InlineKeyboard()
    for kind in filters:
        label = t("users-filter", filter=kind)
        text = f"• {label}" if kind == current else label
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
    builder = InlineKeyboard()
    cards = _card_buttons(builder, user_ids)
    builder.adjust(*_rows_of(cards, 5))
    return builder.as_markup() if cards else None


def _card_buttons(builder: InlineKeyboard, user_ids: Iterable[int]) -> int:
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
    t: Translator, user_id: int, *, admin: bool, has_access: bool, banned: bool, has_devices: bool
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
    builder = InlineKeyboard()
    for action in actions:
        builder.button(
            text=t("card-button", action=action.value),
            callback_data=CardCD(action=action, user_id=user_id),
        )
    builder.adjust(2)
    return builder.as_markup()


def card_confirm(t: Translator, action: CardAction, user_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("card-confirm-yes"), callback_data=CardCD(action=action, user_id=user_id, ok=True)
    )
    builder.button(
        text=t("button-cancel"), callback_data=CardCD(action=CardAction.SHOW, user_id=user_id)
    )
    return builder.as_markup()


def send_confirm(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("message-send-yes"), callback_data=SendCD(action=SendAction.SEND))
    builder.button(text=t("button-cancel"), callback_data=SendCD(action=SendAction.CANCEL))
    return builder.as_markup()


def audit_pages(t: Translator, page: int, has_next: bool) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboard()
    if page > 0:
        builder.button(text=t("button-previous"), callback_data=AuditCD(page=page - 1))
    if has_next:
        builder.button(text=t("button-next"), callback_data=AuditCD(page=page + 1))
    return builder.as_markup() if page > 0 or has_next else None
