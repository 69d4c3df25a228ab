"""Selling more: gifts (a plan paid for someone else; a one-time link the first opener takes, the
buyer told), add-ons (a device slot and traffic, until the plan's end, at the price of the days
left), and the trial on the condition of a channel. The real Dispatcher over SQLite and
PostgreSQL, the real YooKassa SDK and aiogram Bot against the loopback fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AccessKind, Addon, Gift, PaymentStatus, Purpose
from nodes import PeerState
from services.devices import DeviceLimitReached
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop, open_shop

FRIENDS = [8201, 8202, 8203, 8204, 8205]
MONTH = timedelta(days=30)
CHANNEL = -1001234567890


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


async def fed(app: App, update: dict[str, Any], user_id: int = PAYER) -> list[Any]:
    before = len(app.telegram.sent_to(user_id))
    await app.feed(update)
    return app.telegram.sent_to(user_id)[before:]


# --- gifts --------------------------------------------------------------------------------------


async def test_a_gift_goes_to_the_first_who_opens_its_link_and_the_buyer_is_told(
    shop: Shop,
) -> None:
    app = shop.app
    telegram = app.telegram
    await app.say(PAYER, "/start")
    methods = await shop.choose_plan(PAYER, "1m")
    (offer,) = await app.press(PAYER, methods, methods.button("Подарить")["callback_data"])
    assert "Подарок: 1 месяц" in (offer.text or "") and "30 дн." in (offer.text or "")
    await app.press(PAYER, offer, offer.button("Звёздами Telegram — 150")["callback_data"])
    call = next(c for c in reversed(telegram.calls) if c.method == "sendInvoice")
    payload = call.params["payload"]
    assert payload == f"gift:1m:30:150:{PAYER}"
    assert call.params["title"] == "Подарок: 1 месяц"

    told = texts(await fed(app, telegram.successful_payment(PAYER, payload, 150)))
    assert "Подарок оплачен" in told
    code = told.split("start=gift_")[1].split()[0]
    buyer = await app.user(PAYER)
    assert buyer is not None and buyer.access_kind is AccessKind.NONE, "the buyer gets no days"
    assert "Это ваш подарок другу" in texts(await app.say(PAYER, f"/start gift_{code}"))

    updates = [telegram.send_text(telegram.user(f), f"/start gift_{code}") for f in FRIENDS]
    await asyncio.gather(*(app.feed(update) for update in updates))

    answers = {f: texts(telegram.sent_to(f)) for f in FRIENDS}
    winners = [f for f, answer in answers.items() if "Вам подарили VPN: 30 дн." in answer]
    assert len(winners) == 1, answers
    assert sum("уже кто-то открыл" in answer for answer in answers.values()) == 4
    (winner,) = winners
    user = await app.user(winner)
    assert user is not None and user.access_kind is AccessKind.PAID
    assert user.access_until == app.clock() + MONTH and user.plan_code == "1m"
    async with app.services.sessions() as session:
        (gift,) = (await session.scalars(select(Gift))).all()
    assert (gift.redeemed_by, gift.redeemed_at) == (winner, app.clock())
    assert (
        len([t for t in texts(telegram.sent_to(PAYER)).split("\n") if "подарок открыли" in t]) == 1
    )
    assert "Ваш подарок открыли: Test получает 30 дн." in texts(telegram.sent_to(PAYER))
    assert "не найдена" in texts(await app.say(FRIENDS[0], "/start gift_NotAGiftCode"))


async def test_a_gift_paid_by_card_sends_its_link_and_a_refund_cancels_it(shop: Shop) -> None:
    app, yookassa = shop.app, shop.yookassa
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    (offer,) = await app.press(PAYER, await shop.choose_plan(PAYER, "3m"), "buy:gift:3m:menu")
    assert [b["text"] for b in offer.buttons][:2] == [
        "💳 Картой — 499 ₽",
        "⭐ Звёздами Telegram — 375",
    ]
    (link,) = await app.press(PAYER, offer, offer.button("Картой")["callback_data"])
    assert "ссылку для друга" in (link.text or "")
    (post,) = [r for r in yookassa.requests if r.method == "POST"]
    assert (
        post.json["description"] == "VPN gift: 90 days" and "payment_method_data" not in post.json
    )
    payment_id = shop.payment_id_of(link.buttons[0]["url"])
    yookassa.succeed(payment_id)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    sent = [
        m.text or "" for m in app.telegram.sent_to(PAYER) if "Подарок оплачен" in (m.text or "")
    ]
    assert len(sent) == 1, "one link for one payment"
    (payment,) = await shop.payments()
    assert (payment.purpose, payment.status) == (Purpose.GIFT, PaymentStatus.SUCCEEDED)

    # a Stars gift refunded before anyone opened it: the link stops working
    payload, amount = await shop.stars_invoice(PAYER, "1m")
    gift_payload = payload.replace("plan:", "gift:", 1)
    paid = app.telegram.successful_payment(PAYER, gift_payload, amount)
    told = texts(await fed(app, paid))
    code = told.split("start=gift_")[1].split()[0]
    charge = paid["message"]["successful_payment"]["telegram_payment_charge_id"]
    assert "возвращены" in texts(await app.say(ADMIN_ID, f"/refund {charge}"))
    assert "не найдена" in texts(await app.say(FRIENDS[0], f"/start gift_{code}"))
    friend = await app.user(FRIENDS[0])
    assert friend is not None and friend.access_kind is AccessKind.NONE


# --- add-ons ----------------------------------------------------------------------------------


@pytest.fixture
async def addon_shop(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[Shop]:
    """Add-ons on sale; the 1-month plan has 3 devices and 1 GB per 30 days, the 3-month one
    no traffic limit."""
    world, runner = await open_shop(
        tmp_path,
        telegram,
        yookassa,
        database_url,
        plans="1m:30:199:150:3:1,3m:90:499:375:3",
        addon_device="99:75",
        addon_traffic="50:149:100",
        throttle_rate=0,
    )
    yield world
    await runner.cleanup()
    await world.app.close()


async def test_a_device_slot_costs_the_days_left_and_lasts_until_the_plans_end(
    addon_shop: Shop,
) -> None:
    shop = addon_shop
    app = shop.app
    await app.add_node("nl1")
    await app.say(PAYER, "/start")
    (status,) = await app.say(PAYER, "/status")
    assert "Ещё одно устройство" not in str(status.buttons), "only on a paid plan"
    (refused,) = await app.press(PAYER, status, "buy:dev::menu")
    assert "недоступно" in (refused.text or "")

    payload, amount = await shop.stars_invoice(PAYER, "1m")
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))
    end = app.clock() + MONTH
    app.clock.advance(days=15)
    (status,) = await app.say(PAYER, "/status")
    (offer,) = await app.press(PAYER, status, status.button("Ещё одно устройство")["callback_data"])
    assert "до конца вашего тарифа (15 дн.)" in (offer.text or "")
    stars = offer.button("Звёздами")
    assert stars["text"] == "⭐ Звёздами Telegram — 38", "75 ⭐ for 30 days, 15 days left"
    assert offer.button("Картой")["text"] == "💳 Картой — 50 ₽"
    await app.press(PAYER, offer, stars["callback_data"])
    call = next(c for c in reversed(app.telegram.calls) if c.method == "sendInvoice")
    assert call.params["payload"] == f"dev:1m:15:38:{PAYER}"
    query = app.telegram.pre_checkout(PAYER, call.params["payload"], 38)
    await app.feed(query)
    assert app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is True
    paid = app.telegram.successful_payment(PAYER, call.params["payload"], 38)
    told = texts(await fed(app, paid))
    assert f"теперь их можно на одно больше, до {end:%d.%m.%Y %H:%M} UTC" in told
    await fed(app, paid)  # delivered again: one slot still
    async with app.services.sessions() as session:
        (addon,) = (await session.scalars(select(Addon))).all()
    assert (addon.kind, addon.amount, addon.until) == (Purpose.DEVICE, 1, end)

    for _ in range(4):
        await app.services.devices.add(PAYER)
    assert "Ваши устройства: 4 из 4" in texts(await app.say(PAYER, "/devices"))
    with pytest.raises(DeviceLimitReached):
        await app.services.devices.add(PAYER)
    assert len(await app.devices()) == 4

    app.clock.now = end + timedelta(minutes=1)
    payload, amount = await shop.stars_invoice(PAYER, "1m")
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))
    user = await app.user(PAYER)
    assert user is not None and await app.services.devices.limit_of(user) == 3, "ended with it"


async def test_traffic_bought_for_a_limited_plan_turns_the_vpn_back_on(addon_shop: Shop) -> None:
    shop = addon_shop
    app = shop.app
    await app.add_node("nl1")
    await app.say(PAYER, "/start")
    payload, amount = await shop.stars_invoice(PAYER, "1m")
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))
    await app.say(PAYER, "/get_config")
    (device,) = await app.devices()
    assert await app.services.traffic.enforce() == 0
    app.wireguard.nodes["nl1"].handshakes[device.public_key] = PeerState(
        device.public_key,
        "198.51.100.7:4242",
        (f"{device.address4}/32",),
        app.clock.now,
        2 * 1024**3,
        0,
    )
    await app.services.health.probe_all()
    assert await app.services.traffic.enforce() == 1
    assert app.wireguard.nodes["nl1"].peers == {}, "2 GiB of 1: off"

    (status,) = await app.say(PAYER, "/status")
    (offer,) = await app.press(PAYER, status, status.button("Ещё 50 ГБ")["callback_data"])
    (link,) = await app.press(PAYER, offer, offer.button("Картой")["callback_data"])
    (post,) = [r for r in shop.yookassa.requests if r.method == "POST"]
    assert post.json["amount"]["value"] == "149.00"
    assert post.json["description"] == "VPN: 50 GB more per 30 days, 30 days"
    payment_id = shop.payment_id_of(link.buttons[0]["url"])
    shop.yookassa.succeed(payment_id)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    assert "Добавлено 50 ГБ в месяц" in texts(app.telegram.sent_to(PAYER)[-1:])
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key], "on again at once"
    assert await app.services.traffic.enforce() == 0, "2 GiB of 51: it stays on"
    user = await app.user(PAYER)
    assert user is not None and user.traffic_blocked_until is None

    await app.services.users.grant(PAYER, None)  # no traffic limit without a limited plan
    payload, amount = await shop.stars_invoice(PAYER, "3m")
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))
    (refused,) = await app.press(PAYER, status, "buy:gb::menu")
    assert "недоступно" in (refused.text or "")


# --- the trial on a channel's condition ------------------------------------------------------------


async def test_the_trial_needs_the_channel_joined_with_a_button_to_join_and_check_again(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    telegram.channel(CHANNEL, title="VPN news", username="vpnnews")
    app = await open_app(tmp_path, telegram, database_url, trial_channel="@vpnnews")
    try:
        await app.add_node("nl1")
        await app.say(ADMIN_ID, "/start")
        (hello,) = await app.say(PAYER, "/start")
        (asked,) = await app.press(PAYER, hello, hello.button("Попробовать")["callback_data"])
        assert "для подписчиков нашего канала" in (asked.text or "")
        assert asked.button("Подписаться")["url"] == "https://t.me/vpnnews"
        check = asked.button("Я подписался")["callback_data"]
        (again,) = await app.press(PAYER, asked, check)
        assert "для подписчиков" in (again.text or "")
        user = await app.user(PAYER)
        assert user is not None and user.trial_used_at is None, "a refused trial is not used up"

        telegram.set_member(CHANNEL, PAYER, "member")
        (started,) = await app.press(PAYER, asked, check)
        assert "Пробный доступ открыт" in (started.text or "")
        members = [c.params for c in telegram.calls if c.method == "getChatMember"]
        assert members[-1] == {"chat_id": "@vpnnews", "user_id": PAYER}

        # the bot cannot read the channel's members: no trial, and the admins hear it once
        telegram.set_member(CHANNEL, telegram.bot_id, "member")
        for person in (8301, 8302):
            answer = texts(await app.say(person, "/trial"))
            assert "Не получилось проверить подписку" in answer
        alerts = [t for t in texts(telegram.sent_to(ADMIN_ID)).split("\n") if "@vpnnews" in t]
        assert len(alerts) == 1 and "администратором канала" in alerts[0]
    finally:
        await app.close()
