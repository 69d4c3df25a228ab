"""Keyboards of node administration: a node's foreign peers and removing them, accepting a
node's new host key, confirming /add_node."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import AddNodeAction, AddNodeCD, ForeignAction, ForeignCD, HostKeyCD
from locales import Translator


def foreign_peers(t: Translator, node_id: int, peer_ids: Sequence[int]) -> InlineKeyboardMarkup:
    """A remove button per listed peer (numbered as the list is), and one for all of them."""
    builder = InlineKeyboard()
    for number, peer_id in enumerate(peer_ids, start=1):
        builder.button(
            text=t("foreign-remove-one", number=str(number)),
            callback_data=ForeignCD(action=ForeignAction.ASK, node_id=node_id, peer_id=peer_id),
        )
    builder.adjust(5)
    every = ForeignCD(action=ForeignAction.ASK, node_id=node_id).pack()
    builder.row(InlineKeyboardButton(text=t("foreign-remove-all"), callback_data=every))
    return builder.as_markup()


def foreign_confirm(t: Translator, node_id: int, peer_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("foreign-confirm-yes"),
        callback_data=ForeignCD(action=ForeignAction.CONFIRM, node_id=node_id, peer_id=peer_id),
    )
    builder.button(
        text=t("button-cancel"),
        callback_data=ForeignCD(action=ForeignAction.CANCEL, node_id=node_id, peer_id=peer_id),
    )
    return builder.as_markup()


def accept_host_key(t: Translator, node_id: int, fingerprint: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("host-key-accept-button"),
        callback_data=HostKeyCD(node_id=node_id, fingerprint=fingerprint),
    )
    return builder.as_markup()


def confirm_new_node(t: Translator, fingerprint: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=t("node-add-confirm-button"),
        callback_data=AddNodeCD(action=AddNodeAction.CONFIRM, fingerprint=fingerprint),
    )
    builder.button(
        text=t("node-add-cancel-button"),
        callback_data=AddNodeCD(action=AddNodeAction.CANCEL, fingerprint=fingerprint),
    )
    builder.adjust(2)
    return builder.as_markup()
