"""YooKassa provider: the real SDK over loopback HTTP against the fake API; notifications; sources."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import traceback
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from payments.base import BadNotification, ProviderError, ProviderTimeout, Receipt
from payments.sources import YOOKASSA_NETWORKS, address_allowed, parse_networks
from payments.yookassa import YooKassaProvider, parse_notification
from tests.fakes.yookassa_api import FakeYooKassa

RETURN_URL = "https://t.me/vpnservice_test_bot"


@pytest.fixture
async def api() -> AsyncIterator[FakeYooKassa]:
    async with FakeYooKassa() as fake:
        yield fake


def make_provider(
    api: FakeYooKassa, *, secret: str | None = None, timeout: float = 5.0
) -> YooKassaProvider:
    return YooKassaProvider(
        api.shop_id,
        secret or api.secret_key,
        api.base_url,
        return_url=RETURN_URL,
        timeout=timeout,
    )


@pytest.fixture
def provider(api: FakeYooKassa) -> YooKassaProvider:
    return make_provider(api)


async def create(provider: YooKassaProvider, key: str = "key-1", **changes):
    args: dict[str, Any] = {
        "amount_minor": 19900,
        "description": "VPN, 1 month",
        "idempotency_key": key,
        "metadata": {"user_id": "5001", "plan": "1m"},
        "save_method": False,
        "receipt": None,
    }
    args.update(changes)
    return await provider.create(**args)


async def saved_method(api: FakeYooKassa, provider: YooKassaProvider) -> str:
    """A card the user saved while paying."""
    first = await create(provider, key="first", save_method=True)
    api.succeed(first.id, save_method=True)
    method_id = (await provider.fetch(first.id)).saved_method_id
    assert method_id is not None
    return method_id


def full_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


# --- create -----------------------------------------------------------------------------------


async def test_create_returns_confirmation_url_and_sends_auth_key_and_amount(api, provider):
    payment = await create(provider, key="order-7-attempt-1")

    assert payment.status == "pending"
    assert not payment.paid and not payment.succeeded
    assert payment.amount_minor == 19900
    assert payment.currency == "RUB"
    assert payment.metadata == {"user_id": "5001", "plan": "1m"}
    assert payment.saved_method_id is None
    assert payment.confirmation_url == api.payments[payment.id]["confirmation"]["confirmation_url"]
    assert payment.confirmation_url.startswith("https://")

    [request] = api.requests
    assert (request.method, request.path) == ("POST", "/v3/payments")
    assert request.authorized
    assert "Authorization" not in request.headers
    assert request.headers["Idempotence-Key"] == "order-7-attempt-1"
    assert request.json["amount"] == {"value": "199.00", "currency": "RUB"}
    assert request.json["confirmation"] == {"type": "redirect", "return_url": RETURN_URL}
    assert request.json["capture"] is True
    assert request.json["save_payment_method"] is False
    assert request.json["description"] == "VPN, 1 month"
    assert "receipt" not in request.json


async def test_create_asks_to_save_the_method_when_told(api, provider):
    await create(provider, save_method=True)
    assert api.requests[-1].json["save_payment_method"] is True


async def test_kopecks_become_the_api_amount_string(api, provider):
    payment = await create(provider, amount_minor=105)
    assert api.requests[-1].json["amount"]["value"] == "1.05"
    assert payment.amount_minor == 105


async def test_wrong_secret_is_refused_and_not_shown(api):
    provider = make_provider(api, secret="test_Wr0ng-secret")
    with pytest.raises(ProviderError) as caught:
        await create(provider)

    assert not isinstance(caught.value, ProviderTimeout)
    assert "invalid_credentials" in str(caught.value)
    assert "test_Wr0ng-secret" not in full_text(caught.value)
    assert api.requests[0].authorized is False
    assert api.payments == {}


async def test_same_key_twice_makes_one_payment(api, provider):
    first = await create(provider, key="same")
    second = await create(provider, key="same")

    assert second.id == first.id
    assert len(api.payments) == 1
    assert [r.headers["Idempotence-Key"] for r in api.requests] == ["same", "same"]

    other = await create(provider, key="other")
    assert other.id != first.id
    assert len(api.payments) == 2


async def test_same_key_with_another_body_is_refused(api, provider):
    await create(provider, key="same")
    with pytest.raises(ProviderError, match="invalid_request"):
        await create(provider, key="same", amount_minor=29900)
    assert len(api.payments) == 1


async def test_hanging_api_times_out_and_a_retry_with_the_key_finds_the_payment(api):
    provider = make_provider(api, timeout=1.0)
    api.hang_next()  # the payment is made, the answer never comes

    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await create(provider, key="retry-me")
    assert time.monotonic() - started < 1.5
    assert len(api.payments) == 1
    # The SDK's worker thread gives up too (its request has a timeout): no thread left hanging.
    while api.hung_up == 0 and time.monotonic() - started < 2.5:
        await asyncio.sleep(0.05)
    assert api.hung_up == 1

    payment = await create(provider, key="retry-me")
    assert list(api.payments) == [payment.id]
    assert payment.confirmation_url is not None


async def test_server_error_is_a_provider_error_without_the_secret(api, provider):
    api.fail_next(1, status=500)
    with pytest.raises(ProviderError) as caught:
        await create(provider, key="k")

    error = caught.value
    assert not isinstance(error, ProviderTimeout)
    assert "500" in str(error)
    token = base64.b64encode(f"{api.shop_id}:{api.secret_key}".encode()).decode()
    for secret in (api.secret_key, token):
        assert secret not in full_text(error)
    assert api.payments == {}

    payment = await create(provider, key="k")  # the next attempt goes through
    assert list(api.payments) == [payment.id]


async def test_unreachable_api_is_a_provider_error():
    async with FakeYooKassa() as gone:
        provider = make_provider(gone)
    with pytest.raises(ProviderError) as caught:
        await create(provider)
    assert "ConnectionError" in str(caught.value)
    assert gone.secret_key not in full_text(caught.value)


async def test_each_provider_keeps_its_own_api_and_credentials(api, provider):
    # The SDK keeps its settings in class attributes; a second provider must not steal the first.
    async with FakeYooKassa(shop_id="777", secret_key="test_other") as other_api:
        other = make_provider(other_api)
        mine = await create(provider, key="a")
        theirs = await create(other, key="b")
    assert list(api.payments) == [mine.id]
    assert list(other_api.payments) == [theirs.id]
    assert all(r.authorized for r in api.requests + other_api.requests)


async def test_bad_arguments_are_refused_before_any_request(api, provider):
    for changes, says in (
        ({"amount_minor": 0}, "amount"),
        ({"idempotency_key": ""}, "idempotency key"),
        ({"idempotency_key": "k" * 65}, "idempotency key"),
        ({"idempotency_key": "two words"}, "idempotency key"),
        ({"description": "x" * 129}, "description"),
    ):
        with pytest.raises(ValueError, match=says):
            await create(provider, **changes)
    assert api.requests == []


# --- receipt ----------------------------------------------------------------------------------


async def test_receipt_is_sent_when_given(api, provider):
    receipt = Receipt(email="anna@example.com", description="VPN access, 1 month", vat_code=1)
    await create(provider, receipt=receipt)

    sent = api.requests[-1].json["receipt"]
    assert sent["customer"] == {"email": "anna@example.com"}
    [item] = sent["items"]
    assert item["description"] == "VPN access, 1 month"
    assert Decimal(item["quantity"]) == 1
    assert item["amount"] == {"value": "199.00", "currency": "RUB"}
    assert item["vat_code"] == 1
    assert len(api.payments) == 1


async def test_receipt_with_a_bad_email_is_refused_before_sending(api, provider):
    receipt = Receipt(email="not-an-email", description="VPN access", vat_code=1)
    with pytest.raises(ValueError, match="email"):
        await create(provider, receipt=receipt)
    assert api.requests == []


async def test_fake_checks_auth_key_and_body_like_the_api(api):
    good = {
        "amount": {"value": "199.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": RETURN_URL},
    }
    auth = {"Authorization": aiohttp.encode_basic_auth(api.shop_id, api.secret_key)}
    wrong = {"Authorization": aiohttp.encode_basic_auth(api.shop_id, "nope")}
    key = {"Idempotence-Key": "k1"}
    cases = [
        (wrong, key, good, 401, "invalid_credentials", None),
        (auth, {}, good, 400, "invalid_request", "Idempotence-Key"),
        (
            auth,
            key,
            {**good, "amount": {"value": "199", "currency": "RUB"}},
            400,
            "invalid_request",
            "amount.value",
        ),
        (
            auth,
            key,
            {**good, "amount": {"value": "199.00", "currency": "USD"}},
            400,
            "invalid_request",
            "amount.currency",
        ),
        (auth, key, {**good, "capture": False}, 400, "invalid_request", "capture"),
        (
            auth,
            key,
            {k: v for k, v in good.items() if k != "confirmation"},
            400,
            "invalid_request",
            "confirmation",
        ),
        (
            auth,
            key,
            {**good, "receipt": {"customer": {}, "items": []}},
            400,
            "invalid_request",
            "receipt.customer.email",
        ),
        (
            auth,
            key,
            {
                **good,
                "receipt": {
                    "customer": {"email": "a@b.ru"},
                    "items": [
                        {
                            "description": "VPN",
                            "quantity": 1,
                            "vat_code": 1,
                            "amount": {"value": "99.00", "currency": "RUB"},
                        }
                    ],
                },
            },
            400,
            "invalid_request",
            "receipt.items",
        ),
    ]
    async with aiohttp.ClientSession() as http:
        for basic, headers, body, status, code, parameter in cases:
            url = f"{api.base_url}/payments"
            async with http.post(url, json=body, headers={**basic, **headers}) as answer:
                error = await answer.json()
            assert answer.status == status, body
            assert error["type"] == "error"
            assert error["code"] == code
            assert error.get("parameter") == parameter
    assert api.payments == {}


# --- fetch ------------------------------------------------------------------------------------


async def test_fetch_reflects_success_and_the_saved_method(api, provider):
    payment = await create(provider, save_method=True)
    assert not (await provider.fetch(payment.id)).succeeded

    api.succeed(payment.id, save_method=True)
    fetched = await provider.fetch(payment.id)

    assert fetched.succeeded and fetched.paid
    assert fetched.status == "succeeded"
    assert fetched.saved_method_id == api.payments[payment.id]["payment_method"]["id"]
    assert fetched.metadata == {"user_id": "5001", "plan": "1m"}
    assert api.requests[-1].method == "GET"
    assert api.requests[-1].path == f"/v3/payments/{payment.id}"
    assert api.requests[-1].authorized


async def test_fetch_without_saving_has_no_method(api, provider):
    payment = await create(provider)
    api.succeed(payment.id)
    fetched = await provider.fetch(payment.id)
    assert fetched.succeeded
    assert fetched.saved_method_id is None


async def test_fetch_reflects_cancel(api, provider):
    payment = await create(provider)
    api.cancel(payment.id, reason="insufficient_funds")
    fetched = await provider.fetch(payment.id)

    assert fetched.status == "canceled"
    assert not fetched.paid and not fetched.succeeded
    assert fetched.cancellation_reason == "insufficient_funds"


async def test_fetch_unknown_and_malformed_ids(api, provider):
    with pytest.raises(ProviderError, match="not_found"):
        await provider.fetch("2f2b4c3e-000f-5000-9000-1b2c3d4e5f60")
    for bad in ("", "../payments", "id with space", "x" * 65):
        with pytest.raises(ValueError, match="payment id"):
            await provider.fetch(bad)
    assert len(api.requests) == 1


# --- recurring charges ------------------------------------------------------------------------


async def test_charge_saved_takes_money_without_confirmation(api, provider):
    method_id = await saved_method(api, provider)

    charge = await provider.charge_saved(
        method_id=method_id,
        amount_minor=19900,
        description="VPN, 1 month, renewal",
        idempotency_key="renew-5001-1",
        metadata={"user_id": "5001", "plan": "1m", "renewal": "1"},
        receipt=None,
    )

    assert charge.succeeded
    assert charge.confirmation_url is None
    assert charge.saved_method_id == method_id
    sent = api.requests[-1]
    assert sent.headers["Idempotence-Key"] == "renew-5001-1"
    assert sent.json["payment_method_id"] == method_id
    assert sent.json["amount"] == {"value": "199.00", "currency": "RUB"}
    assert "confirmation" not in sent.json
    assert "save_payment_method" not in sent.json


async def test_declined_charge_is_canceled_with_the_reason(api, provider):
    method_id = await saved_method(api, provider)
    api.decline_saved_charges("card_expired")

    charge = await provider.charge_saved(
        method_id=method_id,
        amount_minor=19900,
        description="VPN, 1 month, renewal",
        idempotency_key="renew-5001-2",
        metadata={},
        receipt=Receipt(email="anna@example.com", description="VPN access", vat_code=1),
    )

    assert charge.status == "canceled"
    assert not charge.succeeded
    assert charge.cancellation_reason == "card_expired"
    assert api.requests[-1].json["receipt"]["customer"] == {"email": "anna@example.com"}


async def test_charge_of_an_unknown_method_is_refused(api, provider):
    with pytest.raises(ProviderError, match="payment_method_id"):
        await provider.charge_saved(
            method_id="2f2b4c3e-000f-5000-9000-1b2c3d4e5f60",
            amount_minor=19900,
            description="VPN",
            idempotency_key="renew-x",
            metadata={},
            receipt=None,
        )
    assert api.payments == {}


# --- notifications ----------------------------------------------------------------------------


async def test_notification_from_the_fake_parses(api, provider):
    payment = await create(provider)
    api.succeed(payment.id)

    for event in ("payment.succeeded", "payment.canceled", "payment.waiting_for_capture"):
        body = json.dumps(api.notification(payment.id, event=event)).encode()
        notification = parse_notification(body)
        assert notification.event == event
        assert notification.payment_id == payment.id


def _body(**changes) -> bytes:
    data = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {"id": "2f2b4c3e-000f-5000-9000-1b2c3d4e5f60", "status": "succeeded"},
    }
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"notification"',
        _body(type="payment"),
        _body(event=None),
        _body(event="refund.succeeded"),
        _body(event="payment.succeeded; drop"),
        _body(object=None),
        _body(object={"status": "succeeded"}),
        _body(object={"id": 12345}),
        _body(object={"id": ""}),
        _body(object={"id": "x" * 65}),
        _body(object={"id": "../../payments"}),
        _body(object={"id": "id with space"}),
        _body(object={"id": "2f2b4c3e\n"}),
        _body(padding="x" * 70_000),
    ],
)
def test_bad_notifications_are_refused(body: bytes):
    with pytest.raises(BadNotification):
        parse_notification(body)


def test_bad_notification_is_a_value_error():
    assert issubclass(BadNotification, ValueError)


# --- notification sources ---------------------------------------------------------------------


def test_published_ranges():
    networks = parse_networks(", ".join(YOOKASSA_NETWORKS))
    assert len(networks) == len(YOOKASSA_NETWORKS) == 7

    for inside in (
        "185.71.76.1",
        "185.71.77.31",
        "77.75.153.100",
        "77.75.156.11",
        "77.75.156.35",
        "77.75.154.200",
        "2a02:5180::1",
        "::ffff:185.71.76.10",
    ):
        assert address_allowed(inside, networks), inside
    for outside in (
        "185.71.76.32",
        "77.75.156.12",
        "77.75.154.127",
        "127.0.0.1",
        "2a02:5181::1",
        "::1",
    ):
        assert not address_allowed(outside, networks), outside


@pytest.mark.parametrize(
    "address", ["", "garbage", "185.71.76.1:443", "999.71.76.1", " 185.71.76.1", "185.71.76.0/27"]
)
def test_garbage_addresses_are_not_allowed(address: str):
    networks = parse_networks(", ".join(YOOKASSA_NETWORKS))
    assert address_allowed(address, networks) is False


def test_own_list_for_tests_and_proxies():
    networks = parse_networks(" 127.0.0.1 ,::1,, 10.0.0.0/8")
    assert [str(n) for n in networks] == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    assert address_allowed("127.0.0.1", networks)
    assert address_allowed("10.1.2.3", networks)
    assert not address_allowed("185.71.76.1", networks)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no IP"),
        (" , ", "no IP"),
        ("10.0.0.1/33", "'10.0.0.1/33'"),
        ("185.71.76.5/27", "'185.71.76.5/27'"),
        ("185.71.76.0/27, example.com", "'example.com'"),
    ],
)
def test_bad_network_lists_say_what_is_wrong(text: str, says: str):
    with pytest.raises(ValueError, match=says):
        parse_networks(text)
