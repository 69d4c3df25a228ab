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
    SUPPORT = "sup"  # write to support (under /help, and under a staff reply)


class MenuCD(CallbackData, prefix="m"):
    action: MenuAction


class ServerCD(CallbackData, prefix="srv"):
    node_id: int


class RegenAction(enum.StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"


class RegenCD(CallbackData, prefix="rg"):
    action: RegenAction
    device_id: int = 0  # the device /regen asked about


class LanguageCD(CallbackData, prefix="lang"):
    language: str


class GrantCD(CallbackData, prefix="gr"):
    user_id: int
    days: int  # 0: without end date


class HostKeyCD(CallbackData, prefix="hk"):
    """Accept the SSH host key a node offered: exactly the one with this SHA256 fingerprint
    (43 base64 characters, without `SHA256:`)."""

    node_id: int
    fingerprint: str


class AddNodeAction(enum.StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"


class AddNodeCD(CallbackData, prefix="an"):
    """/add_node's confirmation of the host key shown (its fingerprint, as in HostKeyCD)."""

    action: AddNodeAction
    fingerprint: str


class UnblockCD(CallbackData, prefix="unb"):
    """'My internet blocks the VPN': move the user's devices to an AmneziaWG node."""


class VlessCD(CallbackData, prefix="vl"):
    """VLESS with Reality: the user's links (one made when they have none)."""


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
    STARS_OFF = "staroff"  # stop the Stars subscription's renewal
    STARS_ON = "staron"  # let it renew again


class AccountCD(CallbackData, prefix="acc"):
    action: AccountAction


class PlanCD(CallbackData, prefix="plan"):
    code: str


class PayMethod(enum.StrEnum):
    CARD = "card"
    CARD_AUTO = "auto"
    SBP = "sbp"
    STARS = "stars"
    STARS_SUB = "starsub"  # a Telegram Stars subscription (30-day plans)
    MENU = "menu"  # BuyCD only: show the ways to pay


class PayCD(CallbackData, prefix="pay"):
    """Pay for a plan of one's own."""

    code: str
    method: PayMethod


class Sale(enum.StrEnum):
    """What a purchase buys (db.models.Purpose)."""

    PLAN = "plan"
    GIFT = "gift"
    DEVICE = "dev"
    TRAFFIC = "gb"


class BuyCD(CallbackData, prefix="buy"):
    """A gift (`code`: its plan) or an add-on (`code` empty: the payer's plan)."""

    sale: Sale
    code: str
    method: PayMethod


class TermsCD(CallbackData, prefix="terms"):
    """Accept the offer and the privacy policy, then go on paying as chosen."""

    sale: Sale
    code: str
    method: PayMethod


class LinkCD(CallbackData, prefix="lnk"):
    """Replace the personal page link (the old one stops at once)."""


class SupportAction(enum.StrEnum):
    DONE = "done"  # the user's conversation with support ends


class SupportCD(CallbackData, prefix="sp"):
    action: SupportAction


# --- the console (staff) ---


class CardAction(enum.StrEnum):
    SHOW = "show"
    OPEN = "open"  # the card as a new message (under a user's message relayed to support)
    EXTEND_30 = "x30"
    EXTEND_90 = "x90"
    REVOKE = "rev"
    BAN = "ban"
    UNBAN = "unb"
    RESET = "rst"
    MESSAGE = "msg"


# What support may press on a card; every other action is for admins.
SUPPORT_ACTIONS = frozenset(
    {
        CardAction.SHOW,
        CardAction.OPEN,
        CardAction.EXTEND_30,
        CardAction.EXTEND_90,
        CardAction.MESSAGE,
    }
)


class UsersCD(CallbackData, prefix="ul"):
    kind: str  # a services.console.UserFilter value, checked by the handler
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


# --- broadcasts ---


class BroadcastAction(enum.StrEnum):
    BUTTON = "b"  # add a ready button (value: a ButtonKind, config or renew)
    CLEAR = "c"  # remove the buttons added so far
    NEXT = "n"  # the buttons are done: choose the audience
    GROUP = "g"  # an audience that needs a value: its choices (nodes, regions, languages, days)
    AUDIENCE = "a"  # an audience (with its value) chosen: the preview and the count
    SEND = "ok"
    CANCEL = "no"  # the draft is dropped
    STOP = "x"  # a running broadcast stops (broadcast_id)


class BroadcastCD(CallbackData, prefix="bc"):
    action: BroadcastAction
    audience: str = "all"  # a db.models.BroadcastAudience value, checked by the handler
    value: str = ""  # the audience's value (days, a node id, a region's place in the list,
    # a language), or a button kind; checked by the handler
    broadcast_id: int = 0


# --- nodes ---


class ForeignAction(enum.StrEnum):
    ASK = "ask"  # a remove button: show the confirmation
    CONFIRM = "ok"
    CANCEL = "no"


class ForeignCD(CallbackData, prefix="fp"):
    """Removing a node's foreign peer (one made before the bot adopted the node)."""

    action: ForeignAction
    node_id: int
    peer_id: int = 0  # 0: every foreign peer of the node
