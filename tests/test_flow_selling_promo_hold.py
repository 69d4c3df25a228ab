"""A promo discount held by the first open order: a second order at the discount is refused
while it is open (card, SBP, Stars; two made at once: one gets it), YooKassa's `canceled`
notification or the re-fetch gives it back, the payment credited spends it, and a payment
credited at a discount another payment took is credited all the same and audited. The real
Dispatcher over SQLite and PostgreSQL, the real YooKassa SDK and aiogram Bot against the
loopback fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditEntry, Payment, PaymentStatus, PromoRedemption
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop, open_shop

HELD = "уже в другом вашем неоплаченном заказе"
DISCOUNTED = 15900  # 1m: 199 ₽ less 20%


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


def posts(yookassa: FakeYooKassa) -> list[Any]:
    return [r for r in yookassa.requests if r.method == "POST" and r.path == "/v3/payments"]


async def held_by(app: App) -> int | None:
    """The payment the payer's redemption points at: the order holding it, or the one that
    spent it."""
    async with app.services.sessions() as session:
        return await session.scalar(select(PromoRedemption.payment_id))


async def audit(app: App) -> list[tuple[str, str]]:
    async with app.services.sessions() as session:
        query = select(AuditEntry.action, AuditEntry.details).order_by(AuditEntry.id)
        return [(action, details) for action, details in (await session.execute(query)).all()]


@pytest.fixture
async def seller(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[Shop]:
    """A shop with cards, SBP and Stars, an admin and a payer who took a 20% code."""
    world, runner = await open_shop(tmp_path, telegram, yookassa, database_url, yookassa_sbp=True)
    app = world.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    await app.say(ADMIN_ID, "/promo_new SUMMER 20% 10 2026-12-31 1m,3m")
    await app.say(PAYER, "/promo SUMMER")
    app.clock.advance(seconds=11)  # past the throttle's window: the payer taps a lot next
    yield world
    await runner.cleanup()
    await world.app.close()


async def test_the_first_order_holds_the_discount_until_yookassa_cancels_it(seller: Shop) -> None:
    app, yookassa = seller.app, seller.yookassa
    methods = await seller.choose_plan(PAYER)
    (card,) = await app.press(PAYER, methods, "pay:1m:card")
    assert "159 ₽" in (card.text or "")
    (order,) = await seller.payments()
    assert (order.amount, order.status) == (DISCOUNTED, PaymentStatus.PENDING)
    assert await held_by(app) == order.id, "the open order holds the discount"

    (refused,) = await app.press(PAYER, methods, "pay:1m:sbp")
    assert HELD in (refused.text or ""), "a second order at the discount is refused"
    before = len(app.telegram.calls)
    (refused,) = await app.press(PAYER, methods, "pay:1m:stars")
    assert HELD in (refused.text or "")
    assert not [c for c in app.telegram.calls[before:] if c.method == "sendInvoice"]
    app.clock.advance(seconds=11)
    (again,) = await app.press(PAYER, methods, "pay:1m:card")
    assert again.buttons[0]["url"] == card.buttons[0]["url"], "the same order, tapped again"
    assert len(posts(yookassa)) == 1 and len(await seller.payments()) == 1
    (plans,) = await app.say(PAYER, "/subscribe")
    assert "уже в вашем неоплаченном заказе: оплатите его тем же способом" in (plans.text or "")

    card_id = seller.payment_id_of(card.buttons[0]["url"])
    yookassa.cancel(card_id, reason="expired_on_confirmation")
    event = "payment.canceled"
    assert await seller.notify(card_id, forwarded_for=YOOKASSA_ADDRESS, event=event) == 200
    assert await held_by(app) is None, "the canceled order gave the discount back"

    app.clock.advance(seconds=11)  # past the throttle's window: this user taps a lot
    (sbp,) = await app.press(PAYER, methods, "pay:1m:sbp")
    assert "оплатить 159 ₽ через СБП" in (sbp.text or "")
    canceled, paid = await seller.payments()
    assert canceled.status is PaymentStatus.CANCELED
    assert (paid.method, paid.amount) == ("sbp", DISCOUNTED)
    assert await held_by(app) == paid.id

    sbp_id = seller.payment_id_of(sbp.buttons[0]["url"])
    yookassa.succeed(sbp_id)
    assert await seller.notify(sbp_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=30)
    assert await held_by(app) == paid.id, "spent by the payment credited"
    (plans,) = await app.say(PAYER, "/subscribe")
    assert plans.buttons[0]["text"] == "1 месяц — 199 ₽ / 150 ⭐", "full prices again"
    (listing,) = await app.say(ADMIN_ID, "/promos")
    assert "SUMMER · скидка 20% на 1m, 3m · 1/10" in (listing.text or "")
    assert "оплат: 1 · 159.00 ₽" in (listing.text or "")
    assert [action for action, _ in await audit(app)] == ["promo_new"]


async def test_the_re_fetch_of_an_order_yookassa_canceled_gives_the_discount_back(
    seller: Shop,
) -> None:
    app, yookassa = seller.app, seller.yookassa
    url = await seller.card_link(PAYER)
    (order,) = await seller.payments()
    assert await held_by(app) == order.id

    yookassa.cancel(seller.payment_id_of(url), reason="expired_on_confirmation")
    app.clock.advance(minutes=3)  # the notification never came: the pending check asks
    assert await app.services.payments.check_pending() == 1
    assert await held_by(app) is None

    again = await seller.card_link(PAYER)
    assert again != url
    canceled, fresh = await seller.payments()
    assert (canceled.status, canceled.failure) == (
        PaymentStatus.CANCELED,
        "expired_on_confirmation",
    )
    assert (fresh.amount, fresh.status) == (DISCOUNTED, PaymentStatus.PENDING)
    assert await held_by(app) == fresh.id
    assert [p.json["amount"]["value"] for p in posts(yookassa)] == ["159.00", "159.00"]


async def test_an_order_yookassa_never_made_holds_the_discount_until_the_check_gives_up(
    seller: Shop,
) -> None:
    app, yookassa = seller.app, seller.yookassa
    methods = await seller.choose_plan(PAYER)
    yookassa.fail_next(1)
    (failed,) = await app.press(PAYER, methods, "pay:1m:card")
    assert "Платёжная система не ответила" in (failed.text or "")
    (order,) = await seller.payments()
    assert (order.provider_payment_id, order.amount) == (None, DISCOUNTED)
    assert await held_by(app) == order.id, "a retry with its key may still make it"

    app.clock.advance(days=2, minutes=1)
    await app.services.payments.check_pending()
    (order,) = await seller.payments()
    assert (order.status, order.failure) == (PaymentStatus.CANCELED, "expired")
    assert await held_by(app) is None
    await seller.card_link(PAYER)
    assert [p.amount for p in await seller.payments()] == [DISCOUNTED, DISCOUNTED]
    assert [p.json["amount"]["value"] for p in posts(yookassa)] == ["159.00", "159.00"]


async def test_the_order_holding_the_discount_is_given_again_however_old(seller: Shop) -> None:
    app, yookassa = seller.app, seller.yookassa
    url = await seller.card_link(PAYER)
    app.clock.advance(hours=3)  # past the 50 minutes a pending order is reused for
    assert await seller.card_link(PAYER) == url, "the same order, not a refusal"
    methods = await seller.choose_plan(PAYER, "3m")
    assert "Цена по промокоду: 399 ₽ / 300 ⭐" in (methods.text or "")
    assert "Скидка уже в вашем неоплаченном заказе" in (methods.text or "")
    (refused,) = await app.press(PAYER, methods, "pay:3m:card")
    assert HELD in (refused.text or ""), "another plan at the discount waits for it too"
    assert len(posts(yookassa)) == 1 and len(await seller.payments()) == 1


async def test_two_orders_made_at_once_only_one_gets_the_discount(seller: Shop) -> None:
    app, yookassa = seller.app, seller.yookassa
    methods = await seller.choose_plan(PAYER)
    telegram = app.telegram
    payer = telegram.user(PAYER)
    taps = [telegram.press(payer, methods, f"pay:1m:{way}") for way in ("card", "sbp")]
    await asyncio.gather(*(app.feed(tap) for tap in taps))

    (order,) = await seller.payments()
    assert (order.amount, order.status) == (DISCOUNTED, PaymentStatus.PENDING)
    assert await held_by(app) == order.id
    assert len(posts(yookassa)) == 1
    assert texts(telegram.sent_to(PAYER)).count(HELD) == 1


async def test_a_stars_charge_at_a_discount_a_card_order_took_meanwhile_is_credited_and_audited(
    seller: Shop,
) -> None:
    app, yookassa = seller.app, seller.yookassa
    payload, amount = await seller.stars_invoice(PAYER)
    assert amount == 120, "the discount was free when the invoice was made"
    query = app.telegram.pre_checkout(PAYER, payload, amount)
    await app.feed(query)
    assert app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is True

    app.clock.advance(seconds=11)
    url = await seller.card_link(PAYER)  # between the pre-checkout and the charge
    card = (await seller.payments())[0]
    assert await held_by(app) == card.id
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))

    stars = (await seller.payments())[1]
    assert (stars.amount, stars.currency, stars.status) == (120, "XTR", PaymentStatus.SUCCEEDED)
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=30)
    assert await held_by(app) == card.id, "the card order keeps its hold"
    entries = await audit(app)
    assert entries[-1] == ("promo_twice", f"payment={stars.id} promo={stars.promo_id}")

    payment_id = seller.payment_id_of(url)
    yookassa.succeed(payment_id)
    assert await seller.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=60)
    assert await held_by(app) == card.id, "spent by the order that held it"
    async with app.services.sessions() as session:
        statuses = (await session.scalars(select(Payment.status).order_by(Payment.id))).all()
    assert statuses == [PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED]
    assert [action for action, _ in await audit(app)].count("promo_twice") == 1
