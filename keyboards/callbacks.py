"""Every CallbackData of the bot: short prefixes, enum fields, ids checked by the handlers."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData


class MenuAction(enum.StrEnum):
    CONFIG = "cfg"
    SERVER = "srv"
    STATUS = "st"
    HELP = "hlp"
    LANGUAGE = "lng"


class MenuCD(CallbackData, prefix="m"):
    action: MenuAction


class ServerCD(CallbackData, prefix="srv"):
    node_id: int


class RegenAction(enum.StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"


class RegenCD(CallbackData, prefix="rg"):
    action: RegenAction


class LanguageCD(CallbackData, prefix="lang"):
    language: str


class GrantCD(CallbackData, prefix="gr"):
    user_id: int
    days: int  # 0: without end date


class UnblockCD(CallbackData, prefix="unb"):
    """'My internet blocks the VPN': move the user's devices to an AmneziaWG node."""
