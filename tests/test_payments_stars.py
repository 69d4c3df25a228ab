"""Telegram Stars rules: invoice payloads, the pre-checkout checks, and what a charge bought."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.stars import (
    CURRENCY,
    BadPayload,
    CheckoutRefused,
    Offer,
    check_checkout,
    check_paid,
    invoice_payload,
    parse_payload,
)

OFFERS = {"1m": (30, 150), "3m": (90, 400), "12m": (365, 1400)}


def test_payload_round_trip():
    payload = invoice_payload("3m", 90, 400, 5001)
    assert payload == "plan:3m:90:400:5001"
    assert parse_payload(payload) == Offer("3m", 90, 400, 5001)


@pytest.mark.parametrize("kind", ["plan", "sub", "gift", "dev", "gb"])
def test_payload_says_what_was_sold_and_the_promo_its_price_carries(kind: str):
    payload = invoice_payload("1m", 30, 120, 5001, kind=kind, promo_id=7)  # type: ignore[arg-type]
    assert payload == f"{kind}:1m:30:120:5001:7"
    assert parse_payload(payload) == Offer("1m", 30, 120, 5001, kind, 7)  # type: ignore[arg-type]
    assert parse_payload(f"{kind}:1m:30:150:5001").promo_id is None


def test_payload_of_an_older_version_names_the_plan_alone():
    assert parse_payload("plan:3m:5001") == Offer("3m", None, None, 5001)


def test_longest_payload_fits_telegram_limit():
    largest = 10**19 - 1
    payload = invoice_payload("p" * 16, largest, largest, largest)
    assert len(payload.encode()) <= 128
    assert parse_payload(payload) == Offer("p" * 16, largest, largest, largest)


@pytest.mark.parametrize(
    ("plan_code", "days", "user_id", "says"),
    [
        ("", 30, 5001, "plan code"),
        ("p" * 17, 30, 5001, "plan code"),
        ("1m:5", 30, 5001, "plan code"),
        ("план", 30, 5001, "plan code"),
        ("1m", 0, 5001, "days"),
        ("1m", 30, 0, "user id"),
        ("1m", 30, -5, "user id"),
    ],
)
def test_payload_refuses_what_it_could_not_parse_back(
    plan_code: str, days: int, user_id: int, says: str
):
    with pytest.raises(ValueError, match=says):
        invoice_payload(plan_code, days, 150, user_id)


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
        "plan:1m:30:5001",
        "plan:1m:30:0:5001",
        "plan:1m:30:150:5001:9:9",
        "plan:1m:30:150:5001:0",
        "gift:1m:5001",
        "rent:1m:30:150:5001",
        "plan:1m:5001\n",
        "plan:1m:" + "9" * 20,
        "plan:" + "p" * 17 + ":5001",
    ],
)
def test_foreign_payloads_are_bad(payload: str):
    with pytest.raises(BadPayload):
        parse_payload(payload)
    assert issubclass(BadPayload, ValueError)


@given(st.text(max_size=200))
def test_any_text_is_an_offer_or_bad_payload(text: str):
    try:
        offer = parse_payload(text)
    except BadPayload:
        return
    assert 0 < offer.user_id < 10**19 and len(offer.plan_code) <= 16


def test_checkout_for_the_right_plan_price_and_user_passes():
    payload = invoice_payload("12m", 365, 1400, 5001)
    assert CURRENCY == "XTR"
    assert check_checkout(payload, "XTR", 1400, 5001, OFFERS) == Offer("12m", 365, 1400, 5001)
    assert check_checkout("plan:12m:5001", "XTR", 1400, 5001, OFFERS).days is None


@pytest.mark.parametrize(
    ("payload", "currency", "amount", "user_id", "reason"),
    [
        ("not-ours", "XTR", 150, 5001, "payload"),
        ("plan:1m:30:150:5001", "RUB", 150, 5001, "currency"),
        ("plan:1m:30:150:5001", "XTR", 150, 6002, "user"),
        ("plan:7d:7:150:5001", "XTR", 150, 5001, "plan"),
        ("plan:1m:30:150:5001", "XTR", 149, 5001, "amount"),
        ("plan:1m:30:150:5001", "XTR", 400, 5001, "amount"),
        ("plan:1m:5001", "XTR", 149, 5001, "amount"),
    ],
)
def test_checkout_refusals_name_the_reason(
    payload: str, currency: str, amount: int, user_id: int, reason: str
):
    with pytest.raises(CheckoutRefused) as caught:
        check_checkout(payload, currency, amount, user_id, OFFERS)
    assert caught.value.reason == reason


def test_price_or_days_changed_after_the_invoice_are_refused_before_any_charge():
    payload = invoice_payload("1m", 30, 150, 5001)
    for changed in ((30, 200), (31, 150)):
        with pytest.raises(CheckoutRefused) as caught:
            check_checkout(payload, "XTR", 150, 5001, {**OFFERS, "1m": changed})
        assert caught.value.reason == "amount"


def test_a_charge_is_read_by_its_payload_whatever_the_plans_are_now():
    payload = invoice_payload("1m", 30, 150, 5001)
    assert check_paid(payload, "XTR", 150, 5001) == Offer("1m", 30, 150, 5001)
    for currency, amount, user_id, reason in (
        ("RUB", 150, 5001, "currency"),
        ("XTR", 151, 5001, "amount"),
        ("XTR", 150, 6002, "user"),
    ):
        with pytest.raises(CheckoutRefused) as caught:
            check_paid(payload, currency, amount, user_id)
        assert caught.value.reason == reason
