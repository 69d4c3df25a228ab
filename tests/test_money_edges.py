"""Money at its edges: traffic of removed and re-keyed devices, days added to access without an
end, Stars charges when the plans change or the payer is banned in between, and a webhook body
that arrives in pieces."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot import yookassa_webhook
from db.models import AccessKind, Device, PaymentStatus, User, VlessDevice
from nodes import PeerState
from services.plans import parse_plans
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import Sent
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop

FRIEND = 5151
MIB = 1024**2
LIMITED_PLANS = "1m:30:199:150:3:1,3m:90:499:375:3"  # 1m: 1 GiB of traffic per 30 days
HELD_ALERT = "Оплата звёздами не зачтена"
OpenShop = Callable[..., Awaitable[Shop]]  # money_support's open_other_shop


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


async def counted(app: App, device: Device, mib: int) -> None:
    """The node reports `mib` MiB through the device's current peer, and a probe reads it."""
    app.wireguard.nodes["nl1"].handshakes[device.public_key] = PeerState(
        device.public_key,
        "198.51.100.7:4242",
        (f"{device.address4}/32",),
        app.clock.now - timedelta(seconds=10),
        mib * MIB,
        0,
    )
    await app.services.health.probe_all()


async def fed(app: App, update: dict[str, Any], user_id: int = PAYER) -> list[Sent]:
    """Feed an update; what the bot sent to the user in answer."""
    before = len(app.telegram.sent_to(user_id))
    await app.feed(update)
    return app.telegram.sent_to(user_id)[before:]


async def only_device(app: App) -> Device:
    (device,) = await app.devices()
    return device


@pytest.fixture
async def limited(open_other_shop: OpenShop) -> Shop:
    """A shop on SQLite whose 1-month plan carries 1 GiB per 30 days; PAYER on it, with a
    config on nl1 and the traffic period started."""
    shop = await open_other_shop(plans=LIMITED_PLANS)
    app = shop.app
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    payload, amount = await shop.stars_invoice(PAYER, "1m")
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))
    await app.say(PAYER, "/get_config")
    assert await app.services.traffic.enforce() == 0  # the period starts at 0 bytes
    return shop


# --- traffic: removed and re-keyed devices still count ----------------------------------------


async def test_new_keys_removed_devices_and_a_reset_do_not_reset_the_periods_traffic(
    limited: Shop,
) -> None:
    app = limited.app
    devices = app.services.devices
    first = await only_device(app)
    await counted(app, first, 300)
    await devices.rekey(PAYER, first.id)
    rekeyed = await only_device(app)
    assert rekeyed.public_key != first.public_key
    await counted(app, rekeyed, 350)  # the new peer passes the old one's count before a probe
    assert await app.services.traffic.enforce() == 0, "650 MiB of 1024"

    assert await devices.remove(PAYER, rekeyed.id)
    await devices.add(PAYER)
    await counted(app, await only_device(app), 200)
    await app.services.console.reset_devices(ADMIN_ID, PAYER)
    assert await app.devices() == []
    await devices.add(PAYER)
    await counted(app, await only_device(app), 200)
    assert await app.services.traffic.enforce() == 1, "1050 MiB: over the limit"
    assert app.wireguard.nodes["nl1"].peers == {}
    assert "Трафик по вашему тарифу" in texts(app.telegram.sent_to(PAYER)[-1:])


async def test_vless_bytes_count_towards_the_traffic_limit(limited: Shop) -> None:
    app = limited.app
    device = await only_device(app)
    await counted(app, device, 600)
    assert await app.services.traffic.enforce() == 0, "600 MiB of 1024"
    async with app.services.sessions.begin() as session:
        session.add(
            VlessDevice(
                user_id=PAYER, node_id=device.node_id, uuid="a56df51b-1538-4282-a2da-c453400a6e7e",
                uplink_bytes=100 * MIB, downlink_bytes=400 * MIB,
            )
        )  # fmt: skip
    assert await app.services.traffic.enforce() == 1, "600 MiB + 500 MiB by VLESS: over"
    assert "Трафик по вашему тарифу" in texts(app.telegram.sent_to(PAYER)[-1:])

    await app.services.console.reset_devices(ADMIN_ID, PAYER)  # VLESS devices go too
    async with app.services.sessions() as session:
        assert (await session.scalars(select(VlessDevice))).all() == []
        user = await session.get_one(User, PAYER)
    assert user.traffic_removed_bytes == 1100 * MIB, "their bytes stay in the period's total"


# --- access without an end date stays so --------------------------------------------------------


async def test_bonus_and_extension_days_keep_unlimited_access_unlimited(
    open_other_shop: OpenShop,
) -> None:
    shop = await open_other_shop()
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    await app.services.users.grant(PAYER, None)
    (text,) = await app.say(PAYER, "/referral")
    link = (text.text or "").split("start=")[1].split()[0]
    await app.say(FRIEND, f"/start {link}")
    payload, amount = await shop.stars_invoice(FRIEND, "1m")
    await app.feed(app.telegram.successful_payment(FRIEND, payload, amount))

    inviter = await app.user(PAYER)
    assert inviter is not None and inviter.access_until is None, "the bonus kept it unlimited"
    assert inviter.access_kind is AccessKind.INVITE
    assert texts(app.telegram.sent_to(PAYER)[-1:]) == (
        "🎉 Ваш друг оплатил подписку. Ваш доступ и так без ограничения срока — "
        "он таким и остаётся."
    )

    (card,) = await app.say(ADMIN_ID, f"/user {PAYER}")
    await app.press(ADMIN_ID, card, card.button("➕ 30 дней")["callback_data"])
    await app.press(ADMIN_ID, card, card.button("✅ Да")["callback_data"])
    assert card.text is not None and "без ограничения срока" in card.text
    extended = await app.user(PAYER)
    assert extended is not None and extended.access_until is None, "+30 days kept it unlimited"

    friend = await app.user(FRIEND)
    assert friend is not None and friend.access_until == app.clock() + timedelta(days=30)
    await app.services.users.grant(FRIEND, 30)  # days on access with an end still add up
    friend = await app.user(FRIEND)
    assert friend is not None and friend.access_until == app.clock() + timedelta(days=60)


# --- Stars: stored first, credited as sold --------------------------------------------------


async def stars_shop(open_other_shop: OpenShop) -> tuple[Shop, App]:
    shop = await open_other_shop()
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    return shop, app


async def checked_out(shop: Shop, plan_code: str = "1m") -> tuple[str, int]:
    """An invoice the pre-checkout accepted: Telegram will charge it."""
    payload, amount = await shop.stars_invoice(PAYER, plan_code)
    query = shop.app.telegram.pre_checkout(PAYER, payload, amount)
    await shop.app.feed(query)
    assert shop.app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"]
    return payload, amount


async def test_plans_changed_after_the_pre_checkout_credit_the_days_and_price_sold(
    open_other_shop: OpenShop,
) -> None:
    shop, app = await stars_shop(open_other_shop)
    payload, amount = await checked_out(shop, "1m")
    app.services.subscriptions.plans = parse_plans("1m:31:249:200:3,3m:90:499:375:3")

    answer = await fed(app, app.telegram.successful_payment(PAYER, payload, amount))
    until = app.clock() + timedelta(days=30)
    assert f"Доступ до {until:%d.%m.%Y %H:%M} UTC" in texts(answer)
    (payment,) = await shop.payments()
    assert (payment.status, payment.amount, payment.days) == (PaymentStatus.SUCCEEDED, 150, 30)
    user = await app.user(PAYER)
    assert user is not None and user.access_until == until and user.plan_code == "1m"

    stale = app.telegram.pre_checkout(PAYER, payload, amount)
    await app.feed(stale)
    answered = app.telegram.answered_pre_checkouts[stale["pre_checkout_query"]["id"]]
    assert answered["ok"] is False, "no new charge at the old price"


async def test_a_charge_for_a_plan_removed_meanwhile_is_stored_held_and_refundable(
    open_other_shop: OpenShop,
) -> None:
    shop, app = await stars_shop(open_other_shop)
    payload, amount = await checked_out(shop, "3m")
    app.services.subscriptions.plans = parse_plans("1m:30:199:150:3")

    answer = await fed(app, app.telegram.successful_payment(PAYER, payload, amount))
    assert "зачесть её автоматически не удалось" in texts(answer)
    (payment,) = await shop.payments()
    assert (payment.status, payment.amount, payment.days) == (PaymentStatus.HELD, 375, 90)
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is AccessKind.NONE
    alert = texts(app.telegram.sent_to(ADMIN_ID)[-1:])
    assert HELD_ALERT in alert and "такого тарифа больше нет" in alert
    assert f"/refund {payment.provider_payment_id}" in alert

    done = await app.say(ADMIN_ID, f"/refund {payment.provider_payment_id}")
    assert f"375 ⭐ возвращены пользователю {PAYER}" in texts(done)
    (refunded,) = await shop.payments()
    assert refunded.status is PaymentStatus.REFUNDED
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is AccessKind.NONE, "a refund gives no days"


async def test_a_payer_banned_between_pre_checkout_and_payment_is_stored_and_admins_told(
    open_other_shop: OpenShop,
) -> None:
    shop, app = await stars_shop(open_other_shop)
    payload, amount = await checked_out(shop, "1m")
    await app.services.console.ban(ADMIN_ID, PAYER)

    answer = await fed(app, app.telegram.successful_payment(PAYER, payload, amount))
    assert "зачесть её автоматически не удалось" in texts(answer)
    (payment,) = await shop.payments()
    assert (payment.status, payment.failure) == (PaymentStatus.HELD, "banned")
    user = await app.user(PAYER)
    assert user is not None and user.banned and user.access_kind is AccessKind.NONE
    alert = texts(app.telegram.sent_to(ADMIN_ID)[-1:])
    assert HELD_ALERT in alert and "он заблокирован" in alert

    again = await fed(
        app,
        app.telegram.successful_payment(
            PAYER, payload, amount, charge_id=f"{payment.provider_payment_id}-again"
        ),
    )
    assert len(await shop.payments()) == 2 and "не удалось" in texts(again)


async def test_a_charge_whose_credit_fails_is_stored_and_credited_by_the_pending_check(
    open_other_shop: OpenShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, app = await stars_shop(open_other_shop)
    await app.add_node("nl1")
    payload, amount = await checked_out(shop, "1m")

    async def database_gone(*args: Any) -> None:
        raise ConnectionError("the database went away mid-credit")

    monkeypatch.setattr(app.services.subscriptions, "credit_pending", database_gone)
    answer = await fed(app, app.telegram.successful_payment(PAYER, payload, amount))
    assert "Что-то пошло не так" in texts(answer)
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING, "stored before the credit was tried"
    monkeypatch.undo()

    app.clock.advance(minutes=3)
    assert await app.services.payments.check_pending() == 1
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=30)
    assert "Оплата получена" in texts(app.telegram.sent_to(PAYER)[-1:])
    assert await app.services.payments.check_pending() == 0


async def test_an_invoice_of_the_previous_version_is_credited_by_its_plan(
    open_other_shop: OpenShop,
) -> None:
    shop, app = await stars_shop(open_other_shop)
    old_payload = f"plan:1m:{PAYER}"
    query = app.telegram.pre_checkout(PAYER, old_payload, 150)
    await app.feed(query)
    assert app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is True
    await app.feed(app.telegram.successful_payment(PAYER, old_payload, 150))
    (payment,) = await shop.payments()
    assert (payment.status, payment.days, payment.plan_code) == (PaymentStatus.SUCCEEDED, 30, "1m")


# --- the YooKassa webhook reads the whole body, bounded in size and time ----------------------


async def post_in_chunks(shop: Shop, chunks: list[bytes], pause: float) -> tuple[int, float]:
    """POST a body with chunked transfer encoding, `pause` seconds between chunks, as a slow
    or hostile sender does; the status and the seconds until the answer."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(pause)

    started = time.monotonic()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            shop.webhook_url,
            data=body(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": YOOKASSA_ADDRESS},
        ) as answer,
    ):
        return answer.status, time.monotonic() - started


async def paid_card(shop: Shop) -> str:
    await shop.app.say(PAYER, "/start")
    payment_id = shop.payment_id_of(await shop.card_link(PAYER, "1m"))
    shop.yookassa.succeed(payment_id)
    return payment_id


async def test_a_notification_in_chunks_is_read_to_the_end_and_credited(
    open_other_shop: OpenShop,
) -> None:
    shop = await open_other_shop()
    payment_id = await paid_card(shop)
    body = json.dumps(shop.yookassa.notification(payment_id)).encode()
    third = len(body) // 3
    chunks = [body[:third], body[third : 2 * third], body[2 * third :]]
    status, _ = await post_in_chunks(shop, chunks, 0.05)
    assert status == 200
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED


async def test_a_body_over_the_bound_without_a_length_is_413_and_changes_nothing(
    open_other_shop: OpenShop,
) -> None:
    shop = await open_other_shop()
    payment_id = await paid_card(shop)
    body = json.dumps(
        {**shop.yookassa.notification(payment_id), "padding": "x" * yookassa_webhook.MAX_BODY}
    ).encode()
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    status, _ = await post_in_chunks(shop, chunks, 0.0)
    assert status == 413
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING


async def test_a_body_dripped_slowly_is_cut_off_in_time(
    open_other_shop: OpenShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yookassa_webhook, "BODY_SECONDS", 0.5)
    shop = await open_other_shop()
    payment_id = await paid_card(shop)
    body = json.dumps(shop.yookassa.notification(payment_id)).encode()
    status, seconds = await post_in_chunks(shop, [bytes([b]) for b in body], 0.1)
    assert status == 408
    assert seconds < 2.0, "answered at the deadline, not when the sender finished"
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING
