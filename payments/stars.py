"""Telegram Stars rules: the invoice payload (what was sold), what a pre-checkout query must
match, and what a charge Telegram already made says was bought."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

CURRENCY = "XTR"
SUBSCRIPTION_PERIOD = 30 * 24 * 60 * 60  # seconds: the one period Telegram allows
SUBSCRIPTION_DAYS = 30  # so only plans of 30 days are sold as a subscription
MAX_SUBSCRIPTION_STARS = 10_000  # Telegram's highest price of one period

RefusalReason = Literal["plan", "amount", "currency", "user", "payload"]
# What an invoice sells: a plan, the same plan as a subscription, a plan as a gift, or an
# add-on (a device slot, more traffic) for the plan the payer has.
Kind = Literal["plan", "sub", "gift", "dev", "gb"]
KINDS: tuple[Kind, ...] = ("plan", "sub", "gift", "dev", "gb")

_PLAN_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_NUMBER = r"[1-9][0-9]{0,18}"
_CODE = r"([A-Za-z0-9_-]{1,16})"
_PAYLOAD = re.compile(
    rf"({'|'.join(KINDS)}):{_CODE}:({_NUMBER}):({_NUMBER}):({_NUMBER})(?::({_NUMBER}))?"
)
_OLDER_PAYLOAD = re.compile(rf"plan:{_CODE}:({_NUMBER})")


class BadPayload(ValueError):
    """An invoice payload this bot did not make."""


class CheckoutRefused(Exception):
    """A pre-checkout query to answer "no", or a charge not to credit; `reason` says which
    check failed."""

    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason)
        self.reason: RefusalReason = reason


@dataclass(frozen=True, slots=True)
class Offer:
    """What an invoice sold to whom; `days` and `stars` are None in an older version's payload
    ("plan:<code>:<user id>"), which named the plan alone. `promo_id` is the promo code whose
    discount the price carries."""

    plan_code: str
    days: int | None
    stars: int | None
    user_id: int
    kind: Kind = "plan"
    promo_id: int | None = None


def invoice_payload(
    plan_code: str,
    days: int,
    stars: int,
    user_id: int,
    *,
    kind: Kind = "plan",
    promo_id: int | None = None,
) -> str:
    """The payload of one user's invoice: "<kind>:<code>:<days>:<stars>:<user id>[:<promo>]"
    (at most 101 of Telegram's 128 bytes), so the charge is credited as sold even if the plans
    or the promo change before Telegram reports it."""
    if not _PLAN_CODE.fullmatch(plan_code):
        raise ValueError(f"plan code must be 1-16 of A-Z a-z 0-9 _ -: {plan_code!r}")
    if kind not in KINDS:
        raise ValueError(f"not a kind of invoice: {kind!r}")
    numbers = [("days", days), ("stars", stars), ("user id", user_id)]
    numbers += [("promo id", promo_id)] if promo_id is not None else []
    for name, value in numbers:
        if not 0 < value < 10**19:
            raise ValueError(f"not a valid {name}: {value}")
    promo = f":{promo_id}" if promo_id is not None else ""
    return f"{kind}:{plan_code}:{days}:{stars}:{user_id}{promo}"


def parse_payload(payload: str) -> Offer:
    """The offer in a payload made by `invoice_payload` (or by an older version)."""
    match = _PAYLOAD.fullmatch(payload)
    if match is not None:
        kind, code, days, stars, user_id, promo = match.groups()
        sold = cast(Kind, kind)  # the pattern allows the kinds alone
        return Offer(code, int(days), int(stars), int(user_id), sold, int(promo) if promo else None)
    older = _OLDER_PAYLOAD.fullmatch(payload)
    if older is None:
        raise BadPayload("not an invoice payload of this bot")
    code, user_id = older.groups()
    return Offer(code, None, None, int(user_id))


def check_paid(payload: str, currency: str, total_amount: int, from_user_id: int) -> Offer:
    """What a charge bought: the offer of its payload, when it is ours, in Stars, paid by its
    own user at its own price; anything else raises CheckoutRefused."""
    try:
        offer = parse_payload(payload)
    except BadPayload:
        raise CheckoutRefused("payload") from None
    if currency != CURRENCY:
        raise CheckoutRefused("currency")
    if offer.user_id != from_user_id:
        raise CheckoutRefused("user")
    if offer.stars is not None and total_amount != offer.stars:
        raise CheckoutRefused("amount")
    return offer


def check_checkout(
    payload: str,
    currency: str,
    total_amount: int,
    from_user_id: int,
    plans: Mapping[str, tuple[int, int]],
) -> Offer:
    """The offer when a pre-checkout query pays the current days and price of a known plan for
    its own user. `plans` maps plan codes to (days, price in Stars) of what the payload's kind
    sells now; anything else raises CheckoutRefused (no money is taken yet: the user opens
    /subscribe again)."""
    offer = check_paid(payload, currency, total_amount, from_user_id)
    current = plans.get(offer.plan_code)
    if current is None:
        raise CheckoutRefused("plan")
    days, price = current
    if total_amount != price or offer.days not in (None, days):
        raise CheckoutRefused("amount")
    return offer
