"""Paying by card end to end: the real SDK against the fake YooKassa, the webhook over HTTP, the
real Dispatcher over a real database, the fake Bot API and fake WireGuard nodes.

Tests on `shop` run on SQLite and PostgreSQL (crediting, concurrency, date arithmetic in SQL);
tests on `sqlite_shop` check what does not depend on the database (the webhook's gate, the
provider's answers, settings) and run on SQLite alone to keep the file fast."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from db.models import AccessKind, PaymentStatus, User
from payments.yookassa import YooKassaProvider
from services.payments import RENEW_BEFORE, REUSE_PENDING
from tests.conftest import App
from tests.fakes.telegram_api import Sent
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop

STRANGER_ADDRESS = "203.0.113.9"
PAID_TEXT = "Оплата получена"
UNAVAILABLE_TEXT = "Платёжная система не ответила"
MONTH = timedelta(days=30)


# --- helpers ----------------------------------------------------------------------------------


def texts(app: App, user_id: int = PAYER) -> list[str]:
    return [message.text or "" for message in app.telegram.sent_to(user_id)]


def said(app: App, fragment: str, user_id: int = PAYER) -> list[str]:
    """The bot's messages in the user's chat that contain `fragment`."""
    return [text for text in texts(app, user_id) if fragment in text]


def date_of(moment: Any) -> str:
    return str(moment.strftime("%d.%m.%Y %H:%M UTC"))


async def user_row(app: App, user_id: int = PAYER) -> User:
    user = await app.user(user_id)
    assert user is not None
    return user


async def started(shop: Shop, user_id: int = PAYER) -> None:
    await shop.app.say(user_id, "/start")


async def pay(shop: Shop, user_id: int = PAYER, *, auto: bool = False) -> str:
    """Press "card" for the 1-month plan: the id of the payment the fake YooKassa holds."""
    return shop.payment_id_of(await shop.card_link(user_id, "1m", auto=auto))


def creates(yookassa: FakeYooKassa) -> list[Any]:
    return [r for r in yookassa.requests if r.method == "POST" and r.path == "/v3/payments"]


async def post_raw(shop: Shop, body: bytes, forwarded_for: str | None = YOOKASSA_ADDRESS) -> int:
    headers = {"Content-Type": "application/json"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with (
        aiohttp.ClientSession() as http,
        http.post(shop.webhook_url, data=body, headers=headers) as answer,
    ):
        return answer.status


async def expired_user_with_a_device(shop: Shop) -> str:
    """A user who had 5 days, made a device, and whose access and grace ended: their peer is off
    the node.
    Returns the device's public key."""
    app = shop.app
    await app.add_node("nl1")
    await started(shop)
    await shop.give_access(PAYER, 5)
    sent = await app.say(PAYER, "/get_config")
    assert [message.method for message in sent] == ["sendDocument", "sendPhoto"]
    (device,) = await app.devices()
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key]
    app.clock.advance(days=5, hours=1)
    await app.services.reminders.run()
    assert app.wireguard.nodes["nl1"].in_grace == {device.address4}, "grace limits the peer"
    app.clock.advance(days=3)
    await app.services.reminders.run()
    assert app.wireguard.nodes["nl1"].peers == {}, "the end of grace removes the peer"
    return device.public_key


@pytest.fixture
async def sqlite_shop(open_other_shop: Callable[..., Awaitable[Shop]]) -> Shop:
    """The shop of money_support's `shop`, on SQLite alone."""
    return await open_other_shop()


# --- 1. pay -> webhook -> access and peers back -------------------------------------------------


async def test_paid_card_notification_gives_access_and_puts_the_same_peer_back(shop: Shop) -> None:
    app = shop.app
    public_key = await expired_user_with_a_device(shop)
    assert not (await user_row(app)).has_access(app.clock())

    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    user = await user_row(app)
    assert user.access_kind is AccessKind.PAID
    assert user.access_until == app.clock() + MONTH
    assert user.plan_code == "1m"
    assert user.auto_renew is False and user.payment_method_enc is None
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.provider_payment_id == payment_id
    assert payment.access_until == user.access_until
    (post,) = creates(shop.yookassa)
    assert post.authorized and post.headers["Idempotence-Key"] == payment.idempotency_key
    assert post.json["amount"] == {"value": "199.00", "currency": "RUB"}
    assert list(app.wireguard.nodes["nl1"].peers) == [public_key], "the same peer is back"
    (told,) = said(app, PAID_TEXT)
    assert date_of(app.clock() + MONTH) in told
    assert (await user_row(app)).has_access(app.clock())


# --- 2. extension from the later of now and the current end ------------------------------------


async def test_paying_with_ten_days_left_adds_thirty_days_to_the_current_end(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    await shop.give_access(PAYER, 10)
    old_end = (await user_row(app)).access_until
    assert old_end is not None

    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    user = await user_row(app)
    assert user.access_until == old_end + MONTH
    assert user.access_kind is AccessKind.PAID and user.plan_code == "1m"
    (told,) = said(app, PAID_TEXT)
    assert date_of(old_end + MONTH) in told


# --- 3. the same notification five times at once -----------------------------------------------


async def test_the_same_notification_five_times_at_once_is_credited_once(shop: Shop) -> None:
    app = shop.app
    await started(shop)
    await shop.give_access(PAYER, 10)
    old_end = (await user_row(app)).access_until
    assert old_end is not None
    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)

    statuses = await asyncio.gather(
        *(shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) for _ in range(5))
    )

    assert statuses == [200] * 5
    payments = await shop.payments()
    assert [(p.status, p.provider_payment_id) for p in payments] == [
        (PaymentStatus.SUCCEEDED, payment_id)
    ]
    assert (await user_row(app)).access_until == old_end + MONTH, "extended exactly once"
    assert len(said(app, PAID_TEXT)) == 1
    fetches = [r for r in shop.yookassa.requests if r.method == "GET"]
    assert len(fetches) == 5, "every notification is re-checked with the API"


# --- 4. notifications that must not credit anything --------------------------------------------


async def test_notification_from_a_foreign_address_or_without_the_proxy_header_is_refused(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)
    before = len(shop.yookassa.requests)

    assert await shop.notify(payment_id, forwarded_for=STRANGER_ADDRESS) == 403
    assert await shop.notify(payment_id) == 403, "127.0.0.1 itself is not YooKassa"
    # a forged header put before the real proxy's hop does not help either
    assert (
        await shop.notify(payment_id, forwarded_for=f"{YOOKASSA_ADDRESS}, {STRANGER_ADDRESS}")
        == 403
    )

    assert len(shop.yookassa.requests) == before, "the API was not even asked"
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING
    user = await user_row(app)
    assert user.access_kind is AccessKind.NONE and user.access_until is None
    assert said(app, PAID_TEXT) == []


async def test_notification_for_an_unknown_payment_credits_nothing(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)
    unknown = shop.yookassa.notification(payment_id)
    unknown["object"]["id"] = "2f2b4c3e-000f-5000-9000-1b2c3d4e5f60"
    before = len(shop.yookassa.requests)

    # 200: the payment is not ours, so there is nothing YooKassa should send again
    assert await post_raw(shop, json.dumps(unknown).encode()) == 200

    assert len(shop.yookassa.requests) == before, "nothing to re-fetch"
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING

    # One of ours waits without a provider id (its create failed), and a payment of the same
    # shop made elsewhere names that row in its metadata, for another user: not taken as ours.
    methods = await shop.choose_plan(PAYER, "3m")
    shop.yookassa.fail_next(1)
    await app.press(PAYER, methods, "pay:3m:card")
    _, unbound = await shop.payments()
    assert unbound.provider_payment_id is None
    elsewhere = await YooKassaProvider(
        shop.yookassa.shop_id,
        shop.yookassa.secret_key,
        shop.yookassa.base_url,
        return_url="https://shop.example/",
    ).create(
        amount_minor=unbound.amount,
        description="another integration",
        idempotency_key="elsewhere-1",
        metadata={"payment": str(unbound.id), "user": str(PAYER + 1)},
        save_method=False,
        receipt=None,
    )
    shop.yookassa.succeed(elsewhere.id)
    assert await shop.notify(elsewhere.id, forwarded_for=YOOKASSA_ADDRESS) == 200

    assert [(p.status, p.provider_payment_id) for p in await shop.payments()] == [
        (PaymentStatus.PENDING, payment_id),
        (PaymentStatus.PENDING, None),
    ]
    user = await user_row(app)
    assert user.access_kind is AccessKind.NONE and user.access_until is None
    assert said(app, PAID_TEXT) == []


async def test_garbage_notification_body_is_400_and_changes_nothing(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)
    before = len(shop.yookassa.requests)

    assert await post_raw(shop, b"not json at all") == 400
    assert await post_raw(shop, b'{"type": "notification", "event": "payment.succeeded"}') == 400
    body = {"type": "notification", "event": "payment.succeeded", "object": {"id": "../../x"}}
    assert await post_raw(shop, json.dumps(body).encode()) == 400

    assert len(shop.yookassa.requests) == before
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING
    assert (await user_row(app)).access_kind is AccessKind.NONE
    assert said(app, PAID_TEXT) == []


async def test_body_claiming_success_for_a_payment_still_pending_credits_nothing(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    forged = shop.yookassa.notification(payment_id)
    forged["object"].update(status="succeeded", paid=True)
    assert shop.yookassa.payments[payment_id]["status"] == "pending"

    assert await post_raw(shop, json.dumps(forged).encode()) == 200

    fetches = [r for r in shop.yookassa.requests if r.method == "GET"]
    assert [r.path for r in fetches] == [f"/v3/payments/{payment_id}"], "re-fetched"
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING and payment.credited_at is None
    assert (await user_row(app)).access_kind is AccessKind.NONE
    assert said(app, PAID_TEXT) == []

    shop.yookassa.succeed(payment_id)  # the user really pays: now it counts
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    assert (await user_row(app)).access_until == app.clock() + MONTH


# --- 5. the webhook never came: the pending check -------------------------------------------


async def test_lost_webhook_is_credited_by_the_pending_check(shop: Shop) -> None:
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    shop.yookassa.succeed(payment_id)

    assert await app.services.payments.check_pending() == 0, "too early: the webhook may come"
    assert (await user_row(app)).access_kind is AccessKind.NONE
    app.clock.advance(minutes=3)
    assert await app.services.payments.check_pending() == 1

    user = await user_row(app)
    assert user.access_kind is AccessKind.PAID and user.access_until == app.clock() + MONTH
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED and payment.credited_at == app.clock()
    (told,) = said(app, PAID_TEXT)
    assert date_of(app.clock() + MONTH) in told

    # the webhook arriving late and another check change nothing
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    app.clock.advance(minutes=3)
    assert await app.services.payments.check_pending() == 0
    assert (await user_row(app)).access_until == user.access_until
    assert len(said(app, PAID_TEXT)) == 1


async def test_pending_check_closes_a_canceled_payment_without_access(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    shop.yookassa.cancel(payment_id, reason="expired_on_confirmation")
    app.clock.advance(minutes=3)

    assert await app.services.payments.check_pending() == 1

    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.CANCELED
    assert payment.failure == "expired_on_confirmation"
    assert payment.credited_at is None
    user = await user_row(app)
    assert user.access_kind is AccessKind.NONE and user.access_until is None
    assert said(app, PAID_TEXT) == []
    app.clock.advance(minutes=3)
    gets = len(shop.yookassa.requests)
    assert await app.services.payments.check_pending() == 0
    assert len(shop.yookassa.requests) == gets, "a closed payment is not asked about again"
    # a new tap makes a new payment: the canceled one is not reused
    assert await pay(shop) != payment_id


async def test_a_payment_that_succeeds_after_the_check_gave_up_is_credited(shop: Shop) -> None:
    app = shop.app
    await started(shop)
    payment_id = await pay(shop)
    app.clock.advance(days=2, minutes=5)
    assert await app.services.payments.check_pending() == 0
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.CANCELED and payment.failure == "expired"
    assert (await user_row(app)).access_kind is AccessKind.NONE

    shop.yookassa.succeed(payment_id)  # the user paid the old link after all
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED and payment.failure is None
    user = await user_row(app)
    assert user.access_kind is AccessKind.PAID and user.access_until == app.clock() + MONTH
    assert len(said(app, PAID_TEXT)) == 1
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    assert (await user_row(app)).access_until == user.access_until, "credited once"
    assert len(said(app, PAID_TEXT)) == 1


# --- 6, 7. creating the payment: timeouts, errors, second taps ----------------------------------


async def press_card(shop: Shop, methods: Sent) -> Sent:
    """Press "card" on the plan's message: the one message the bot answers with."""
    answer: list[Sent] = await shop.app.press(PAYER, methods, "pay:1m:card")
    assert len(answer) == 1
    return answer[0]


async def test_timeout_during_creation_then_retry_reuses_the_idempotency_key(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    await started(shop)
    methods = await shop.choose_plan(PAYER)
    yookassa.hang_next(1)

    failed = await press_card(shop, methods)
    assert UNAVAILABLE_TEXT in (failed.text or "")
    assert failed.buttons == []
    assert len(yookassa.payments) == 1, "the fake made the payment; the answer was lost"

    retried = await press_card(shop, methods)
    url = retried.buttons[0]["url"]
    assert url == next(iter(yookassa.payments.values()))["confirmation"]["confirmation_url"]
    posts = creates(yookassa)
    assert len(posts) == 2
    keys = {post.headers["Idempotence-Key"] for post in posts}
    assert len(keys) == 1
    assert len(yookassa.payments) == 1, "the same key: no second payment"
    (payment,) = await shop.payments()
    assert payment.idempotency_key in keys
    assert payment.provider_payment_id == shop.payment_id_of(url)
    assert payment.status is PaymentStatus.PENDING

    app.clock.advance(minutes=10)
    third = await press_card(shop, methods)
    assert third.buttons[0]["url"] == url
    assert len(creates(yookassa)) == 2, "within the reuse window no new POST"
    assert len(await shop.payments()) == 1
    assert (await user_row(app)).access_kind is AccessKind.NONE
    assert said(app, PAID_TEXT) == []


async def test_http_500_on_creation_says_try_again_and_charges_nothing(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    await started(shop)
    methods = await shop.choose_plan(PAYER)
    yookassa.fail_next(1, status=500)

    failed = await press_card(shop, methods)

    assert UNAVAILABLE_TEXT in (failed.text or "")
    assert yookassa.payments == {}
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING and payment.provider_payment_id is None
    assert (await user_row(app)).access_kind is AccessKind.NONE

    retried = await press_card(shop, methods)
    assert retried.buttons[0]["url"].startswith("https://yoomoney.ru/")
    assert len(yookassa.payments) == 1
    assert len({post.headers["Idempotence-Key"] for post in creates(yookassa)}) == 1


async def test_pressing_card_twice_gives_the_same_link(shop: Shop) -> None:
    app, yookassa = shop.app, shop.yookassa
    await started(shop)
    first = await shop.card_link(PAYER)
    app.clock.advance(minutes=5)
    second = await shop.card_link(PAYER)

    assert first == second
    assert len(yookassa.payments) == 1
    assert len(creates(yookassa)) == 1
    assert len(await shop.payments()) == 1
    assert len(said(app, "Нажмите кнопку, чтобы оплатить 199 ₽")) == 2

    # consenting to auto-renewal is another order: its own payment
    auto = await shop.card_link(PAYER, auto=True)
    assert auto != first and len(yookassa.payments) == 2
    # past the reuse window an old link is not handed out any more
    app.clock.advance(seconds=REUSE_PENDING.total_seconds())
    later = await shop.card_link(PAYER)
    assert later not in (first, auto)
    assert len(yookassa.payments) == 3 and len(await shop.payments()) == 3


async def test_two_card_taps_at_the_same_moment_make_one_payment(shop: Shop) -> None:
    app, yookassa = shop.app, shop.yookassa
    await started(shop)
    methods = await shop.choose_plan(PAYER)
    presses = [app.telegram.press(PAYER, methods, "pay:1m:card") for _ in range(2)]
    await asyncio.gather(*(app.feed(update) for update in presses))
    assert len(yookassa.payments) == 1 and len(creates(yookassa)) == 1
    assert len(await shop.payments()) == 1
    assert len(said(app, "Нажмите кнопку, чтобы оплатить 199 ₽")) == 2


# --- 8. auto-renewal --------------------------------------------------------------------------


async def subscribed_with_auto_renewal(shop: Shop) -> tuple[str, User]:
    """The user paid 1 month agreeing to auto-renewal: the saved method id and the user."""
    await started(shop)
    payment_id = await pay(shop, auto=True)
    (post,) = creates(shop.yookassa)
    assert post.json["save_payment_method"] is True
    shop.yookassa.succeed(payment_id, save_method=True)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    method_id = str(shop.yookassa.payments[payment_id]["payment_method"]["id"])
    return method_id, await user_row(shop.app)


async def test_auto_renewal_charges_the_saved_card_once_before_the_end(shop: Shop) -> None:
    app, yookassa = shop.app, shop.yookassa
    method_id, user = await subscribed_with_auto_renewal(shop)
    assert user.auto_renew is True
    assert user.payment_method_enc is not None
    assert method_id not in user.payment_method_enc, "stored encrypted"
    assert await app.services.subscriptions.saved_method(PAYER) == method_id
    end = user.access_until
    assert end == app.clock() + MONTH

    app.clock.now = end - RENEW_BEFORE - timedelta(minutes=1)
    assert await app.services.payments.charge_renewals() == 0, "not yet"
    app.clock.now = end - timedelta(hours=12)
    assert await app.services.payments.charge_renewals() == 1

    charge = creates(yookassa)[-1]
    assert charge.json["payment_method_id"] == method_id
    assert charge.json["amount"] == {"value": "199.00", "currency": "RUB"}
    assert "confirmation" not in charge.json
    renewed = await user_row(app)
    assert renewed.access_until == end + MONTH
    assert renewed.access_kind is AccessKind.PAID and renewed.auto_renew is True
    first, second = await shop.payments()
    assert first.save_method and not first.recurring
    assert second.recurring and second.status is PaymentStatus.SUCCEEDED
    assert second.idempotency_key == charge.headers["Idempotence-Key"]
    assert second.provider_payment_id in yookassa.payments
    told = said(app, PAID_TEXT)
    assert len(told) == 2 and date_of(end + MONTH) in told[1]

    assert await app.services.payments.charge_renewals() == 0
    app.clock.advance(minutes=15)
    assert await app.services.payments.charge_renewals() == 0
    assert len(creates(yookassa)) == 2, "no second charge"
    assert (await user_row(app)).access_until == end + MONTH


async def test_declined_auto_renewal_tells_the_user_keeps_access_and_is_not_retried(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    _, user = await subscribed_with_auto_renewal(shop)
    end = user.access_until
    assert end is not None
    yookassa.decline_saved_charges()
    app.clock.now = end - timedelta(hours=12)

    assert await app.services.payments.charge_renewals() == 0

    assert len(creates(yookassa)) == 2, "one attempt was made"
    (failed,) = said(app, "Не удалось продлить подписку")
    assert date_of(end) in failed
    kept = await user_row(app)
    assert kept.access_until == end and kept.has_access(app.clock())
    _, charge = await shop.payments()
    assert charge.recurring and charge.status is PaymentStatus.CANCELED
    assert charge.failure == "insufficient_funds"

    for _ in range(2):
        app.clock.advance(minutes=15)
        assert await app.services.payments.charge_renewals() == 0
    app.clock.advance(minutes=3)
    await app.services.payments.check_pending()
    assert len(creates(yookassa)) == 2, "no second attempt for the same period"
    assert len(said(app, "Не удалось продлить подписку")) == 1
    assert (await user_row(app)).access_until == end
    app.clock.now = end + timedelta(minutes=1)
    assert not (await user_row(app)).has_access(app.clock()), "kept until the end, not longer"


async def test_auto_renewal_timeout_is_retried_with_the_same_key_and_charged_once(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    _, user = await subscribed_with_auto_renewal(shop)
    end = user.access_until
    assert end is not None
    app.clock.now = end - timedelta(hours=12)
    yookassa.hang_next(1)

    assert await app.services.payments.charge_renewals() == 0

    first_id, charge_id = list(yookassa.payments)
    assert yookassa.payments[charge_id]["status"] == "succeeded", "charged; the answer was lost"
    assert (await user_row(app)).access_until == end
    assert len(said(app, PAID_TEXT)) == 1

    app.clock.advance(minutes=15)  # the next scheduled run; the notification was lost too
    assert await app.services.payments.charge_renewals() == 1

    first, second, retry = creates(yookassa)
    assert "payment_method_id" not in first.json and "payment_method_id" in retry.json
    assert second.headers["Idempotence-Key"] == retry.headers["Idempotence-Key"]
    assert list(yookassa.payments) == [first_id, charge_id], "no second charge"
    assert (await user_row(app)).access_until == end + MONTH
    _, renewal = await shop.payments()
    assert renewal.provider_payment_id == charge_id
    assert renewal.status is PaymentStatus.SUCCEEDED
    assert len(said(app, PAID_TEXT)) == 2


async def test_renewal_charged_while_its_answer_was_lost_is_credited_by_its_notification(
    sqlite_shop: Shop,
) -> None:
    """The charge went through but its answer timed out; before the next run the user turns
    auto-renewal off. YooKassa's notification must still credit the money taken, and the
    credit must not turn auto-renewal back on."""
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    _, user = await subscribed_with_auto_renewal(shop)
    end = user.access_until
    assert end is not None
    app.clock.now = end - timedelta(hours=12)
    yookassa.hang_next(1)
    assert await app.services.payments.charge_renewals() == 0
    _, charge_id = list(yookassa.payments)
    assert yookassa.payments[charge_id]["status"] == "succeeded"

    (status,) = await app.say(PAYER, "/status")
    await app.press(PAYER, status, status.button("Отключить автопродление")["callback_data"])
    assert await shop.notify(charge_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    user = await user_row(app)
    assert user.access_until == end + MONTH, "the money taken is credited"
    _, renewal = await shop.payments()
    assert renewal.provider_payment_id == charge_id
    assert renewal.status is PaymentStatus.SUCCEEDED and renewal.recurring
    (_, told) = said(app, PAID_TEXT)
    assert date_of(end + MONTH) in told
    assert user.auto_renew is False and user.payment_method_enc is None, "consent withdrawn"

    posts = len(creates(yookassa))
    app.clock.advance(minutes=15)
    assert await app.services.payments.charge_renewals() == 0
    app.clock.now = end + MONTH - timedelta(hours=12)
    assert await app.services.payments.charge_renewals() == 0
    assert len(creates(yookassa)) == posts, "no charge after auto-renewal was turned off"
    assert len(yookassa.payments) == 2


async def test_cancel_auto_renewal_in_status_says_until_when_and_stops_charges(
    sqlite_shop: Shop,
) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    _, user = await subscribed_with_auto_renewal(shop)
    end = user.access_until
    assert end is not None

    (status,) = await app.say(PAYER, "/status")
    assert "Автопродление включено" in (status.text or "")
    button = status.button("Отключить автопродление")
    (answer,) = await app.press(PAYER, status, button["callback_data"])

    assert "Автопродление отключено" in (answer.text or "")
    assert f"Доступ остаётся до {date_of(end)}" in (answer.text or "")
    cancelled = await user_row(app)
    assert cancelled.auto_renew is False and cancelled.payment_method_enc is None
    assert cancelled.access_until == end
    (status,) = await app.say(PAYER, "/status")
    assert "Отключить автопродление" not in [b["text"] for b in status.buttons]

    app.clock.now = end - timedelta(hours=12)
    assert await app.services.payments.charge_renewals() == 0
    assert len(creates(yookassa)) == 1, "only the first payment, no charge"
    assert (await user_row(app)).access_until == end


# --- 9. which ways to pay are offered -----------------------------------------------------------


NO_YOOKASSA = {"yookassa_shop_id": None, "yookassa_secret_key": None}


async def test_without_any_payment_settings_subscribe_says_payments_are_not_set_up(
    open_other_shop: Callable[..., Awaitable[Shop]],
) -> None:
    shop = await open_other_shop(**NO_YOOKASSA, stars_enabled=False)
    await started(shop)

    (answer,) = await shop.app.say(PAYER, "/subscribe")

    assert "Оплата пока не настроена" in (answer.text or "")
    assert not any(b.get("callback_data", "").startswith("plan:") for b in answer.buttons)
    assert shop.app.services.payments.enabled is False
    assert shop.yookassa.requests == []


async def test_with_only_stars_there_is_no_card_button(
    open_other_shop: Callable[..., Awaitable[Shop]],
) -> None:
    shop = await open_other_shop(**NO_YOOKASSA, stars_enabled=True)
    await started(shop)

    methods = await shop.choose_plan(PAYER)

    data = [b.get("callback_data") for b in methods.buttons]
    assert "pay:1m:stars" in data
    assert not any(d and d.startswith(("pay:1m:card", "pay:1m:auto")) for d in data)
    assert not any("Картой" in b["text"] for b in methods.buttons)
    # a forged "card" press is refused, and nothing reaches YooKassa
    (refused,) = await shop.app.press(PAYER, methods, "pay:1m:card")
    assert "не настроен" in (refused.text or "")
    assert refused.buttons == []
    assert shop.yookassa.requests == []
    assert await shop.payments() == []


# --- 10. receipts -------------------------------------------------------------------------------


async def test_receipt_is_sent_with_the_email_item_and_vat_code_when_configured(
    open_other_shop: Callable[..., Awaitable[Shop]],
) -> None:
    shop = await open_other_shop(yookassa_receipt_email="receipts@example.com", yookassa_vat_code=4)
    await started(shop)
    await shop.card_link(PAYER)

    (post,) = creates(shop.yookassa)
    receipt = post.json["receipt"]
    (item,) = receipt["items"]
    assert Decimal(item.pop("quantity")) == 1  # the SDK writes "1.0"
    assert receipt == {
        "customer": {"email": "receipts@example.com"},
        "items": [
            {
                "description": post.json["description"],
                "amount": {"value": "199.00", "currency": "RUB"},
                "vat_code": 4,
                "payment_mode": "full_payment",
                "payment_subject": "service",
            }
        ],
    }
    assert len(shop.yookassa.payments) == 1


async def test_no_receipt_without_a_receipt_email(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    await started(shop)
    await shop.card_link(PAYER)

    (post,) = creates(shop.yookassa)
    assert "receipt" not in post.json
    assert post.json["amount"] == {"value": "199.00", "currency": "RUB"}
    assert len(shop.yookassa.payments) == 1


# --- 11. secrets --------------------------------------------------------------------------------


async def test_secret_key_is_in_no_message_and_no_log_of_failing_creates(
    sqlite_shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    shop = sqlite_shop
    app, yookassa = shop.app, shop.yookassa
    caplog.set_level(logging.DEBUG)
    secret = yookassa.secret_key
    token = base64.b64encode(f"{yookassa.shop_id}:{secret}".encode()).decode()
    await started(shop)
    methods = await shop.choose_plan(PAYER)

    yookassa.fail_next(1, status=500)
    failed = [await press_card(shop, methods)]
    yookassa.secret_key = "another-key"  # the shop's key is now refused: 401
    failed.append(await press_card(shop, methods))

    assert all(UNAVAILABLE_TEXT in (message.text or "") for message in failed)
    assert [post.authorized for post in creates(yookassa)] == [True, False]
    assert yookassa.payments == {}
    warnings = [r for r in caplog.records if "YooKassa create" in r.getMessage()]
    assert len(warnings) == 2, "each failure is logged"
    assert "HTTP 401" in warnings[-1].getMessage()
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for record in caplog.records
    )
    logged += caplog.text
    sent = json.dumps([call.params for call in app.telegram.calls], ensure_ascii=False)
    for leak in (secret, token):
        assert leak not in logged
        assert leak not in sent
