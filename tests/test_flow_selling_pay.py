"""Selling, the ways to pay: SBP through YooKassa, Telegram Stars subscriptions of 30-day plans
(renewed once per charge, switched off and on, refunded), the offer accepted before the first
payment, and the page that offers the same. The real Dispatcher over SQLite and PostgreSQL, the
real YooKassa SDK and aiogram Bot against the loopback fakes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditEntry, Payment, PaymentStatus, PromoKind
from payments.stars import invoice_payload
from services.promos import PromoSpec
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop, open_shop
from tests.page_support import PAGE_USER, open_site

MONTH = timedelta(days=30)
PAID = "Оплата получена"
OFFER_URL = "https://shop.example/offer"
PRIVACY_URL = "https://shop.example/privacy"


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


def said(app: App, fragment: str, user_id: int = PAYER) -> list[str]:
    return [m.text or "" for m in app.telegram.sent_to(user_id) if fragment in (m.text or "")]


def posts(yookassa: FakeYooKassa) -> list[Any]:
    return [r for r in yookassa.requests if r.method == "POST" and r.path == "/v3/payments"]


@pytest.fixture
async def seller(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[Shop]:
    """A shop with cards, SBP and Stars."""
    world, runner = await open_shop(tmp_path, telegram, yookassa, database_url, yookassa_sbp=True)
    yield world
    await runner.cleanup()
    await world.app.close()


# --- SBP ---------------------------------------------------------------------------------------


async def test_sbp_is_its_own_button_and_one_notification_five_times_at_once_credits_once(
    seller: Shop,
) -> None:
    app, yookassa = seller.app, seller.yookassa
    await app.say(PAYER, "/start")
    methods = await seller.choose_plan(PAYER)
    sbp = methods.button("СБП")
    assert sbp["text"] == "⚡ СБП — 199 ₽"

    (link,) = await app.press(PAYER, methods, sbp["callback_data"])
    assert "оплатить 199 ₽ через СБП" in (link.text or "")
    url = link.buttons[0]["url"]
    (post,) = posts(yookassa)
    assert post.json["payment_method_data"] == {"type": "sbp"}
    assert post.json["confirmation"]["type"] == "redirect"
    assert post.json["save_payment_method"] is False
    assert post.json["amount"] == {"value": "199.00", "currency": "RUB"}
    (row,) = await seller.payments()
    assert (row.method, row.amount, row.status) == ("sbp", 19900, PaymentStatus.PENDING)
    assert row.idempotency_key == post.headers["Idempotence-Key"], "stored before the request"

    # a second tap gives the same SBP payment; a card is an order of its own
    (again,) = await app.press(PAYER, methods, sbp["callback_data"])
    assert again.buttons[0]["url"] == url and len(posts(yookassa)) == 1
    card = await seller.card_link(PAYER)
    assert card != url and len(yookassa.payments) == 2

    payment_id = seller.payment_id_of(url)
    paid = yookassa.succeed(payment_id)
    assert paid["payment_method"]["type"] == "sbp" and paid["payment_method"]["saved"] is False
    statuses = await asyncio.gather(
        *(seller.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) for _ in range(5))
    )

    assert statuses == [200] * 5
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + MONTH, "extended once"
    assert user.auto_renew is False and user.payment_method_enc is None
    assert len(said(app, PAID)) == 1
    by_method = {p.method: p.status for p in await seller.payments()}
    assert by_method == {"sbp": PaymentStatus.SUCCEEDED, None: PaymentStatus.PENDING}


async def test_without_yookassa_sbp_there_is_no_sbp_button_and_a_forged_one_is_refused(
    open_other_shop: Any,
) -> None:
    shop = await open_other_shop()  # YOOKASSA_SBP unset: cards only
    await shop.app.say(PAYER, "/start")
    methods = await shop.choose_plan(PAYER)
    assert not [b for b in methods.buttons if "СБП" in b["text"]]
    (refused,) = await shop.app.press(PAYER, methods, "pay:1m:sbp")
    assert "не настроен" in (refused.text or "")
    assert posts(shop.yookassa) == [] and await shop.payments() == []


# --- Telegram Stars subscriptions -----------------------------------------------------------------


async def subscription_link(seller: Shop, plan: str = "1m") -> dict[str, Any]:
    """Choose the plan and the Stars subscription: the invoice behind the link the bot sent."""
    app = seller.app
    methods = await seller.choose_plan(PAYER, plan)
    button = methods.button("Звёздами с автопродлением")
    assert button["text"] == "🔁 Звёздами с автопродлением — 150 ⭐ в месяц"
    (offer,) = await app.press(PAYER, methods, button["callback_data"])
    assert "150 ⭐ каждые 30 дней" in (offer.text or "")
    return app.telegram.invoice_link(offer.buttons[0]["url"])


async def test_a_stars_subscription_renews_once_per_charge_switches_off_and_on_and_is_refunded(
    seller: Shop,
) -> None:
    app = seller.app
    telegram = app.telegram
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")

    invoice = await subscription_link(seller)
    assert invoice["subscription_period"] == 30 * 24 * 60 * 60
    assert (invoice["currency"], invoice["total_amount"]) == ("XTR", 150)
    payload = invoice["payload"]
    assert payload == f"sub:1m:30:150:{PAYER}"
    query = telegram.pre_checkout(PAYER, payload, 150)
    await app.feed(query)
    assert telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is True

    first = telegram.successful_payment(
        PAYER, payload, 150, is_recurring=True, is_first_recurring=True
    )
    before = len(telegram.sent_to(PAYER))
    await app.feed(first)
    end = app.clock() + MONTH
    assert f"Доступ до {end:%d.%m.%Y %H:%M} UTC" in texts(telegram.sent_to(PAYER)[before:])
    charge = first["message"]["successful_payment"]["telegram_payment_charge_id"]
    user = await app.user(PAYER)
    assert user is not None and user.stars_subscription == charge and user.plan_code == "1m"

    (status,) = await app.say(PAYER, "/status")
    assert f"Подписка звёздами продлится {end:%d.%m.%Y %H:%M} UTC" in (status.text or "")
    (off,) = await app.press(PAYER, status, status.button("Отключить подписку")["callback_data"])
    assert "звёзды больше не спишутся" in (off.text or "")
    assert telegram.star_subscriptions[charge].canceled is True
    (status,) = await app.say(PAYER, "/status")
    assert "Подписка звёздами отключена" in (status.text or "")
    (on,) = await app.press(PAYER, status, status.button("Включить подписку")["callback_data"])
    assert "снова включена" in (on.text or "")
    assert telegram.star_subscriptions[charge].canceled is False
    edits = [c.params for c in telegram.calls if c.method == "editUserStarSubscription"]
    assert [(e["user_id"], e["telegram_payment_charge_id"], e["is_canceled"]) for e in edits] == [
        (PAYER, charge, True),
        (PAYER, charge, False),
    ]

    # Telegram renews it 30 days later, and delivers that one charge five times at once
    app.clock.advance(days=30)
    renewal = telegram.successful_payment(PAYER, payload, 150, is_recurring=True)
    await asyncio.gather(*(app.feed(renewal) for _ in range(5)))

    payments = await seller.payments()
    assert [(p.status, p.recurring, p.method) for p in payments] == [
        (PaymentStatus.SUCCEEDED, False, "subscription"),
        (PaymentStatus.SUCCEEDED, True, "subscription"),
    ]
    user = await app.user(PAYER)
    assert user is not None and user.access_until == end + MONTH, "the renewal counted once"
    assert user.stars_subscription_until == end + MONTH
    assert len(said(app, PAID)) == 2 and len(said(app, "уже учтён")) == 4

    renewed = renewal["message"]["successful_payment"]["telegram_payment_charge_id"]
    done = texts(await app.say(ADMIN_ID, f"/refund {renewed}"))
    assert f"150 ⭐ возвращены пользователю {PAYER}" in done
    assert renewed in telegram.refunded
    assert telegram.star_subscriptions[charge].canceled is True, "a refund stops the renewals"
    user = await app.user(PAYER)
    assert user is not None and user.access_until == end and user.stars_subscription_canceled
    assert [p.status for p in await seller.payments()] == [
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    ]


async def test_only_30_day_plans_are_sold_as_a_stars_subscription(seller: Shop) -> None:
    app = seller.app
    await app.say(PAYER, "/start")
    methods = await seller.choose_plan(PAYER, "3m")
    assert not [b for b in methods.buttons if "автопродлением —" in b["text"] and "⭐" in b["text"]]
    (refused,) = await app.press(PAYER, methods, "pay:3m:starsub")
    assert "только у тарифа на 30 дней" in (refused.text or "")
    assert app.telegram.invoice_links == {}
    (none,) = await app.press(PAYER, methods, "acc:staroff")
    assert "Подписки звёздами сейчас нет" in (none.text or "")
    assert not [c for c in app.telegram.calls if c.method == "editUserStarSubscription"]


async def test_a_card_subscription_replaces_a_stars_one(seller: Shop) -> None:
    """One auto-renewal at a time: a card saved for auto-renewal stops the Stars subscription."""
    app, telegram = seller.app, seller.app.telegram
    await app.say(PAYER, "/start")
    payload = (await subscription_link(seller))["payload"]
    first = telegram.successful_payment(
        PAYER, payload, 150, is_recurring=True, is_first_recurring=True
    )
    await app.feed(first)
    charge = first["message"]["successful_payment"]["telegram_payment_charge_id"]

    payment_id = seller.payment_id_of(await seller.card_link(PAYER, auto=True))
    seller.yookassa.succeed(payment_id, save_method=True)
    assert await seller.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200

    assert telegram.star_subscriptions[charge].canceled is True
    user = await app.user(PAYER)
    assert user is not None and user.auto_renew and user.stars_subscription_canceled


# --- the offer and the privacy policy ------------------------------------------------------------


async def test_the_offer_is_accepted_in_one_tap_before_any_charge_and_recorded_with_its_time(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> None:
    shop, runner = await open_shop(
        tmp_path,
        telegram,
        yookassa,
        database_url,
        offer_url=OFFER_URL,
        privacy_url=PRIVACY_URL,
    )
    try:
        app = shop.app
        await app.say(PAYER, "/start")
        methods = await shop.choose_plan(PAYER)
        for method in ("card", "stars", "starsub"):
            (ask,) = await app.press(PAYER, methods, f"pay:1m:{method}")
            assert "примите, пожалуйста, оферту" in (ask.text or "")
            assert [b.get("url") for b in ask.buttons[:2]] == [OFFER_URL, PRIVACY_URL]
        assert yookassa.requests == [] and await shop.payments() == []
        assert not [c for c in telegram.calls if c.method in ("sendInvoice", "createInvoiceLink")]
        forged = invoice_payload("1m", 30, 150, PAYER)  # an invoice never sent: still refused
        query = telegram.pre_checkout(PAYER, forged, 150)
        await app.feed(query)
        assert telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is False

        (ask,) = await app.press(PAYER, methods, "pay:1m:card")
        accepted = await app.press(PAYER, ask, ask.button("Принимаю")["callback_data"])
        assert "условия приняты" in (accepted[0].text or "")
        assert "Нажмите кнопку, чтобы оплатить 199 ₽" in (accepted[1].text or "")
        assert len(posts(yookassa)) == 1, "paying went on as chosen"
        user = await app.user(PAYER)
        assert user is not None and user.terms_accepted_at == app.clock()

        app.clock.advance(hours=1)
        await app.press(PAYER, ask, ask.button("Принимаю")["callback_data"])  # an old button
        user = await app.user(PAYER)
        assert user is not None and user.terms_accepted_at == app.clock() - timedelta(hours=1)
        await app.press(PAYER, methods, "pay:1m:stars")
        assert [c.method for c in telegram.calls if c.method == "sendInvoice"] == ["sendInvoice"]
    finally:
        await runner.cleanup()
        await shop.app.close()


# --- the page -------------------------------------------------------------------------------------


async def test_the_page_offers_sbp_the_stars_subscription_and_the_discounted_prices(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> None:
    site, runner = await open_site(tmp_path, telegram, yookassa, database_url, yookassa_sbp=True)
    try:
        app = site.app
        await app.services.promos.create(
            ADMIN_ID,
            PromoSpec("PAGE20", PromoKind.PERCENT, 20, 5, app.clock() + MONTH, ("1m",)),
        )
        async with site.client() as http:
            answer = await http.post(
                "/app/auth", data={"init_data": site.init_data()}, allow_redirects=False
            )
            assert answer.status == 303
            page = await (await http.get("/app")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            unknown = await http.post(
                "/app/promo", data={"csrf": csrf.group(1), "code": "nope"}, allow_redirects=False
            )
            assert unknown.status == 404 and "Такого промокода нет" in await unknown.text()
            taken = await http.post(
                "/app/promo", data={"csrf": csrf.group(1), "code": "page20"}, allow_redirects=False
            )
            assert taken.status == 303
            page = await (await http.get(taken.headers["Location"])).text()
            assert "Промокод принят" in page
            plan = re.search(r'id="plan-1m".*?</label>', page, re.DOTALL)
            assert plan is not None
            assert "159 ₽" in plan.group(0) and "<s" in plan.group(0) and "199 ₽" in plan.group(0)
            assert "120 ★" in plan.group(0)
            assert "Промокод PAGE20: скидка 20%" in page
            assert 'id="pay-sbp"' in page and 'id="pay-stars-sub"' in page

            sbp = await http.post(
                "/app/pay/sbp", data={"csrf": csrf.group(1), "plan": "1m"}, allow_redirects=False
            )
            html = await sbp.text()
            assert sbp.status == 200 and "159 ₽ через СБП" in html
            link = re.search(r'id="pay-link" class="button external" href="([^"]+)"', html)
            assert link is not None
            (post,) = posts(yookassa)
            assert post.json["payment_method_data"] == {"type": "sbp"}
            assert post.json["amount"]["value"] == "159.00"
            assert site.shop.payment_id_of(unescape(link.group(1))) in yookassa.payments
            card = await http.post(
                "/app/pay/card",
                data={"csrf": csrf.group(1), "plan": "1m", "auto": "0"},
                allow_redirects=False,
            )
            held = "Скидка по промокоду уже в другом вашем неоплаченном заказе"
            assert card.status == 409 and held in await card.text(), "the SBP order holds it"
            assert len(posts(yookassa)) == 1

            subscribe = await http.post(
                "/app/pay/stars",
                data={"csrf": csrf.group(1), "plan": "1m", "subscription": "1"},
                headers={"Accept": "application/json"},
            )
            invoice = app.telegram.invoice_link((await subscribe.json())["url"])
            assert invoice["subscription_period"] == 30 * 24 * 60 * 60
            assert invoice["total_amount"] == 150, "a subscription renews at the full price"
            refused = await http.post(
                "/app/pay/stars",
                data={"csrf": csrf.group(1), "plan": "3m", "subscription": "1"},
                allow_redirects=False,
            )
            assert refused.status == 409 and "30 дней" in await refused.text()
    finally:
        await runner.cleanup()
        await site.app.close()


async def test_the_page_asks_for_the_offer_before_paying_and_records_it(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> None:
    site, runner = await open_site(
        tmp_path, telegram, yookassa, database_url, offer_url=OFFER_URL, privacy_url=PRIVACY_URL
    )
    try:
        app = site.app
        async with site.client() as http:
            await http.post(
                "/app/auth", data={"init_data": site.init_data()}, allow_redirects=False
            )
            page = await (await http.get("/app")).text()
            assert OFFER_URL in page and PRIVACY_URL in page and 'id="pay-card"' not in page
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            refused = await http.post(
                "/app/pay/card",
                data={"csrf": csrf.group(1), "plan": "1m", "auto": "0"},
                allow_redirects=False,
            )
            assert refused.status == 403 and yookassa.requests == []
            accepted = await http.post(
                "/app/terms", data={"csrf": csrf.group(1)}, allow_redirects=False
            )
            assert accepted.status == 303
            page = await (await http.get(accepted.headers["Location"])).text()
            assert "условия приняты" in page and 'id="pay-card"' in page
        user = await app.user(PAGE_USER)
        assert user is not None and user.terms_accepted_at == app.clock()
        async with app.services.sessions() as session:
            assert (await session.scalars(select(Payment))).all() == []
            assert (await session.scalars(select(AuditEntry))).all() == []
    finally:
        await runner.cleanup()
        await site.app.close()
