"""Telegram Stars rules: the invoice payload, and what a pre-checkout query must match."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

CURRENCY = "XTR"

RefusalReason = Literal["plan", "amount", "currency", "user", "payload"]

_PLAN_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PAYLOAD = re.compile(r"plan:([A-Za-z0-9_-]{1,32}):([1-9][0-9]{0,18})")


class BadPayload(ValueError):
    """An invoice payload this bot did not make."""


class CheckoutRefused(Exception):
    """A pre-checkout query that must be answered "no"; `reason` says which check failed."""

    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason)
        self.reason: RefusalReason = reason


def invoice_payload(plan_code: str, user_id: int) -> str:
    """The payload for one user's invoice for one plan: "plan:<code>:<user_id>" (≤ 128 bytes)."""
    if not _PLAN_CODE.fullmatch(plan_code):
        raise ValueError(f"plan code must be 1-32 of A-Z a-z 0-9 _ -: {plan_code!r}")
    if not 0 < user_id < 10**19:
        raise ValueError(f"not a Telegram user id: {user_id}")
    return f"plan:{plan_code}:{user_id}"


def parse_payload(payload: str) -> tuple[str, int]:
    """The plan code and user id from a payload made by `invoice_payload`."""
    match = _PAYLOAD.fullmatch(payload)
    if match is None:
        raise BadPayload("not an invoice payload of this bot")
    return match.group(1), int(match.group(2))


def check_checkout(
    payload: str,
    currency: str,
    total_amount: int,
    from_user_id: int,
    prices: Mapping[str, int],
) -> str:
    """The plan code when the query pays the current price of a known plan for its own user.

    `prices` maps plan codes to prices in Stars; anything else raises CheckoutRefused.
    """
    try:
        plan_code, user_id = parse_payload(payload)
    except BadPayload:
        raise CheckoutRefused("payload") from None
    if currency != CURRENCY:
        raise CheckoutRefused("currency")
    if user_id != from_user_id:
        raise CheckoutRefused("user")
    price = prices.get(plan_code)
    if price is None:
        raise CheckoutRefused("plan")
    if total_amount != price:
        raise CheckoutRefused("amount")
    return plan_code
