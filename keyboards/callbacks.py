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


class DeviceAction(enum.StrEnum):
    OPEN = "open"  # the list as a new message (from the main menu)
    LIST = "list"  # the list in place of the pressed message
    ADD = "add"
    SHOW = "show"
    CONFIG = "cfg"
    RENAME = "ren"
    ROUTES = "rt"
    REKEY = "key"
    REKEY_CONFIRMED = "keyok"
    REMOVE = "rm"
    REMOVE_CONFIRMED = "rmok"


class DeviceCD(CallbackData, prefix="dv"):
    action: DeviceAction
    device_id: int = 0  # 0 for OPEN, LIST and ADD


class RouteCD(CallbackData, prefix="dr"):
    device_id: int
    preset: str  # a preset key, "" for everything through the VPN


class AccountAction(enum.StrEnum):
    PLANS = "plans"
    TRIAL = "trial"
    CANCEL_RENEW = "norenew"
    HISTORY = "history"
    REFERRAL = "ref"


class AccountCD(CallbackData, prefix="acc"):
    action: AccountAction


class PlanCD(CallbackData, prefix="plan"):
    code: str


class PayMethod(enum.StrEnum):
    CARD = "card"
    CARD_AUTO = "auto"
    STARS = "stars"


class PayCD(CallbackData, prefix="pay"):
    code: str
    method: PayMethod
