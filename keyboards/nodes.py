"""Keyboards of node administration: accepting a node's new host key, confirming /add_node."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.callbacks import AddNodeAction, AddNodeCD, HostKeyCD
from locales import Translator


def accept_host_key(t: Translator, node_id: int, fingerprint: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("host-key-accept-button"),
        callback_data=HostKeyCD(node_id=node_id, fingerprint=fingerprint),
    )
    return builder.as_markup()


def confirm_new_node(t: Translator, fingerprint: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
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
