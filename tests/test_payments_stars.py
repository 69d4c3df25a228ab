"""Telegram Stars rules: invoice payloads and the pre-checkout checks."""

from __future__ import annotations

import pytest

from payments.stars import (
    CURRENCY,
    BadPayload,
    CheckoutRefused,
    check_checkout,
    invoice_payload,
    parse_payload,
)

PRICES = {"1m": 150, "3m": 400, "12m": 1400}


def test_payload_round_trip():
    payload = invoice_payload("3m", 5001)
    assert payload == "plan:3m:5001"
    assert parse_payload(payload) == ("3m", 5001)


def test_longest_payload_fits_telegram_limit():
    payload = invoice_payload("p" * 32, 10**19 - 1)
    assert len(payload.encode()) <= 128
    assert parse_payload(payload) == ("p" * 32, 10**19 - 1)


@pytest.mark.parametrize(
    ("plan_code", "user_id", "says"),
    [
        ("", 5001, "plan code"),
        ("p" * 33, 5001, "plan code"),
        ("1m:5", 5001, "plan code"),
        ("план", 5001, "plan code"),
        ("1m", 0, "user id"),
        ("1m", -5, "user id"),
    ],
)
def test_payload_refuses_what_it_could_not_parse_back(plan_code: str, user_id: int, says: str):
    with pytest.raises(ValueError, match=says):
        invoice_payload(plan_code, user_id)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "plan:1m",
        "plan:1m:",
        "plan::5001",
        "plan:1m:abc",
        "plan:1m:0",
        "plan:1m:05001",
        "plan:1m:-5001",
        "plan:1m:5001:extra",
        "gift:1m:5001",
        "plan:1m:5001\n",
        "plan:1m:" + "9" * 20,
    ],
)
def test_foreign_payloads_are_bad(payload: str):
    with pytest.raises(BadPayload):
        parse_payload(payload)
    assert issubclass(BadPayload, ValueError)


def test_checkout_for_the_right_plan_price_and_user_passes():
    payload = invoice_payload("12m", 5001)
    assert CURRENCY == "XTR"
    assert check_checkout(payload, "XTR", 1400, 5001, PRICES) == "12m"


@pytest.mark.parametrize(
    ("payload", "currency", "amount", "user_id", "reason"),
    [
        ("not-ours", "XTR", 150, 5001, "payload"),
        ("plan:1m:5001", "RUB", 150, 5001, "currency"),
        ("plan:1m:5001", "XTR", 150, 6002, "user"),
        ("plan:7d:5001", "XTR", 150, 5001, "plan"),
        ("plan:1m:5001", "XTR", 149, 5001, "amount"),
        ("plan:1m:5001", "XTR", 400, 5001, "amount"),
    ],
)
def test_checkout_refusals_name_the_reason(
    payload: str, currency: str, amount: int, user_id: int, reason: str
):
    with pytest.raises(CheckoutRefused) as caught:
        check_checkout(payload, currency, amount, user_id, PRICES)
    assert caught.value.reason == reason


def test_price_change_after_the_invoice_is_refused():
    payload = invoice_payload("1m", 5001)
    with pytest.raises(CheckoutRefused) as caught:
        check_checkout(payload, "XTR", 150, 5001, {**PRICES, "1m": 200})
    assert caught.value.reason == "amount"
