"""Selling with codes and links: promo codes made by admins in the chat (a discount that is the
price shown and charged by YooKassa and Stars, free days, uses exact under concurrency, uses and
revenue per code), and campaign links counted in /stats next to referrals. The real Dispatcher
over SQLite and PostgreSQL, the real YooKassa SDK and aiogram Bot against the loopback fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from db.models import AccessKind, AuditEntry, PromoCode, PromoRedemption, User
from tests.conftest import ADMIN_ID, App
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop

FRIEND = 5151
NEW_CODE = "/promo_new SUMMER 20% 10 2026-12-31 1m,3m"


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


async def scalar(app: App, query: Any) -> Any:
    async with app.services.sessions() as session:
        return await session.scalar(query)


async def redemptions(app: App) -> int:
    return int(await scalar(app, select(func.count()).select_from(PromoRedemption)))


# --- making codes -----------------------------------------------------------------------------


async def test_admins_make_codes_in_the_chat_bad_input_gets_usage_and_changes_nothing(
    shop: Shop,
) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    for bad in (
        "/promo_new",
        "/promo_new SUMMER 20%",
        "/promo_new SUMMER 120% 10 2026-12-31",
        "/promo_new SUMMER 20% 0 2026-12-31",
        "/promo_new SUMMER 20% 10 31.12.2026",
        "/promo_new SUMMER 20% 10 2026-02-30",
        "/promo_new SUMMER 20 10 2026-12-31",
        "/promo_new SUMMER 7d 10 2026-12-31 1m",
        "/promo_new SUMMER 20% 10 2026-12-31 1M;drop",
        "/promo_new S! 20% 10 2026-12-31",
        "/promo_new SUMMER 20% 10 2026-12-31 1m extra",
    ):
        assert "Использование: /promo_new КОД" in texts(await app.say(ADMIN_ID, bad)), bad
    refusals = {
        "/promo_new SUMMER 20% 10 2026-12-31 9y": "Тарифа 9y нет",
        "/promo_new MINUS 199₽ 10 2026-12-31": "меньше цены тарифа (199 ₽)",
        "/promo_new OLD 20% 10 2026-11-22": "сегодня или позже",
    }
    for command, answer in refusals.items():
        assert answer in texts(await app.say(ADMIN_ID, command)), command
    assert "только для администраторов" in texts(await app.say(PAYER, NEW_CODE))
    assert await scalar(app, select(func.count()).select_from(PromoCode)) == 0

    made = texts(await app.say(ADMIN_ID, NEW_CODE))
    assert "Промокод SUMMER: скидка 20% на 1m, 3m · использований: 10" in made
    assert "действует до 01.01.2027 00:00 UTC" in made
    assert "https://t.me/vpnservice_test_bot?start=promo_SUMMER" in made
    assert "уже есть" in texts(await app.say(ADMIN_ID, "/promo_new summer 5d 3 2026-12-31"))
    async with app.services.sessions() as session:
        (entry,) = (await session.scalars(select(AuditEntry))).all()
    assert (entry.actor_id, entry.action, entry.target) == (ADMIN_ID, "promo_new", "SUMMER")
    assert "percent=20 uses=10" in entry.details


# --- a discount -------------------------------------------------------------------------------


async def test_a_discount_is_the_price_shown_and_charged_by_yookassa_and_stars_and_is_spent_once(
    shop: Shop,
) -> None:
    app, yookassa = shop.app, shop.yookassa
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    await app.say(ADMIN_ID, NEW_CODE)

    taken, plans = await app.say(PAYER, "/promo summer")
    assert "Промокод SUMMER принят: скидка 20% на 1m, 3m" in (taken.text or "")
    assert [b["text"] for b in plans.buttons] == [
        "🏷 1 месяц — 159 ₽ / 120 ⭐",
        "🏷 3 месяца — 399 ₽ / 300 ⭐",
        "12 месяцев — 1\xa0690 ₽ / 1\xa0250 ⭐",
    ]
    methods = await shop.choose_plan(PAYER, "1m")
    assert "Цена по промокоду: 159 ₽ / 120 ⭐ вместо 199 ₽ / 150 ⭐" in (methods.text or "")
    assert methods.button("Картой —")["text"] == "💳 Картой — 159 ₽"
    assert methods.button("Звёздами Telegram")["text"] == "⭐ Звёздами Telegram — 120"

    payload, amount = await shop.stars_invoice(PAYER, "1m")
    promo_id = await scalar(app, select(PromoCode.id))
    assert (payload, amount) == (f"plan:1m:30:120:{PAYER}:{promo_id}", 120)
    app.clock.advance(seconds=11)  # past THROTTLE_RATE's window: this user taps a lot
    url = await shop.card_link(PAYER, "1m")
    (post,) = [r for r in yookassa.requests if r.method == "POST"]
    assert post.json["amount"] == {"value": "159.00", "currency": "RUB"}
    (order,) = await shop.payments()
    assert (order.amount, order.promo_id) == (15900, promo_id)

    payment_id = shop.payment_id_of(url)
    yookassa.succeed(payment_id)
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=30)
    spent = await scalar(app, select(PromoRedemption.payment_id))
    assert spent == order.id, "the discount is spent by the payment it priced"

    app.clock.advance(seconds=11)
    (plans,) = await app.say(PAYER, "/subscribe")
    assert plans.buttons[0]["text"] == "1 месяц — 199 ₽ / 150 ⭐", "full prices again"
    query = app.telegram.pre_checkout(PAYER, payload, amount)
    await app.feed(query)
    answered = app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]
    assert answered["ok"] is False, "the old discounted invoice is refused before any charge"
    assert "уже использовали" in texts(await app.say(PAYER, "/promo SUMMER"))

    (listing,) = await app.say(ADMIN_ID, "/promos")
    assert "SUMMER · скидка 20% на 1m, 3m · 1/10" in (listing.text or "")
    assert "оплат: 1 · 159.00 ₽" in (listing.text or "")


async def test_stars_charge_the_discounted_price_and_spend_the_code(shop: Shop) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    await app.say(ADMIN_ID, "/promo_new FIFTY 50₽ 3 2026-12-31 3m")
    await app.say(PAYER, "/promo FIFTY")

    payload, amount = await shop.stars_invoice(PAYER, "3m")
    assert amount == 337, "375 ⭐ × 449 / 499 ₽, rounded"
    query = app.telegram.pre_checkout(PAYER, payload, amount)
    await app.feed(query)
    assert app.telegram.answered_pre_checkouts[query["pre_checkout_query"]["id"]]["ok"] is True
    await app.feed(app.telegram.successful_payment(PAYER, payload, amount))

    (payment,) = await shop.payments()
    assert (payment.amount, payment.currency, payment.days) == (337, "XTR", 90)
    assert await scalar(app, select(PromoRedemption.payment_id)) == payment.id
    (listing,) = await app.say(ADMIN_ID, "/promos")
    assert "FIFTY · скидка 50 ₽ на 3m · 1/3" in (listing.text or "")
    assert "оплат: 1 · 337 ⭐" in (listing.text or "")


async def test_thirty_users_taking_a_ten_use_code_at_once_get_exactly_ten(shop: Shop) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(ADMIN_ID, "/promo_new TEN 10% 10 2026-12-31")
    people = list(range(7001, 7031))
    for person in people:
        await app.say(person, "/start")

    updates = [app.telegram.send_text(app.telegram.user(p), "/promo TEN") for p in people]
    await asyncio.gather(*(app.feed(update) for update in updates))

    assert await redemptions(app) == 10
    assert await scalar(app, select(PromoCode.used)) == 10
    answers = [texts(app.telegram.sent_to(person)) for person in people]
    assert sum("Промокод TEN принят" in answer for answer in answers) == 10
    assert sum("использовали все" in answer for answer in answers) == 20


async def test_one_user_tapping_a_code_five_times_at_once_takes_one_use(shop: Shop) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(ADMIN_ID, "/promo_new WEEK 7d 10 2026-12-31")
    await app.say(PAYER, "/start")

    updates = [app.telegram.send_text(app.telegram.user(PAYER), "/promo WEEK") for _ in range(5)]
    await asyncio.gather(*(app.feed(update) for update in updates))

    assert await redemptions(app) == 1
    assert await scalar(app, select(PromoCode.used)) == 1
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=7)
    sent = texts(app.telegram.sent_to(PAYER))
    assert sent.count("+7 дн.") == 1 and sent.count("уже использовали") == 4


async def test_a_promo_link_gives_free_days_once_and_an_expired_code_is_refused(
    shop: Shop,
) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(ADMIN_ID, "/promo_new WEEK 7d 2 2026-11-30")
    await app.say(ADMIN_ID, "/promo_new LATE 7d 2 2026-11-24")

    first = texts(await app.say(PAYER, "/start promo_WEEK"))
    until = app.clock() + timedelta(days=7)
    assert f"Промокод принят: +7 дн. Доступ до {until:%d.%m.%Y %H:%M} UTC" in first
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is AccessKind.INVITE
    assert user.access_until == until
    assert "уже использовали" in texts(await app.say(PAYER, "/start promo_WEEK"))
    assert "Такого промокода нет" in texts(await app.say(FRIEND, "/start promo_NOPE"))
    assert "Введите промокод так" in texts(await app.say(FRIEND, "/promo"))
    assert "Такого промокода нет" in texts(await app.say(FRIEND, "/promo ../x"))

    app.clock.advance(days=2)
    assert "закончился" in texts(await app.say(FRIEND, "/promo LATE"))
    friend = await app.user(FRIEND)
    assert friend is not None and friend.access_kind is AccessKind.NONE
    assert await redemptions(app) == 1


# --- campaigns ----------------------------------------------------------------------------------


async def test_campaign_links_count_registrations_trials_first_payments_and_revenue(
    shop: Shop,
) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    made = texts(await app.say(ADMIN_ID, "/campaign Summer"))
    assert "Кампания summer: https://t.me/vpnservice_test_bot?start=c_summer" in made
    assert "start=c_summer-ref_КОД" in made
    assert "уже есть" in texts(await app.say(ADMIN_ID, "/campaign summer"))
    assert "Использование: /campaign" in texts(await app.say(ADMIN_ID, "/campaign two words"))
    assert "Использование: /campaign" in texts(await app.say(ADMIN_ID, "/campaign sum-mer"))
    assert "только для администраторов" in texts(await app.say(PAYER, "/campaign spam"))
    listing = texts(await app.say(ADMIN_ID, "/campaign"))
    assert "summer: https://t.me/vpnservice_test_bot?start=c_summer" in listing

    await app.say(PAYER, "/start")  # the inviter, there before the campaign
    (text,) = await app.say(PAYER, "/referral")
    referral = (text.text or "").split("start=")[1].split()[0]
    await app.say(PAYER, "/start c_summer")  # an old user: not counted
    anna, boris, vera = 8101, 8102, 8103
    (hello,) = await app.say(anna, "/start c_summer")
    await app.press(anna, hello, hello.button("Попробовать")["callback_data"])
    await app.say(boris, f"/start c_summer-{referral}")
    await app.say(vera, "/start c_unknown")

    async with app.services.sessions() as session:
        rows = dict((await session.execute(select(User.id, User.campaign_id))).all())
        refs = dict((await session.execute(select(User.id, User.referred_by_id))).all())
    campaign_id = rows[anna]
    assert campaign_id is not None and rows[boris] == campaign_id
    assert rows[PAYER] is None and rows[vera] is None
    assert refs[boris] == PAYER, "the referral in the same link is recorded too"

    payload, amount = await shop.stars_invoice(boris, "3m")
    await app.feed(app.telegram.successful_payment(boris, payload, amount))
    payload, amount = await shop.stars_invoice(boris, "1m")
    await app.feed(app.telegram.successful_payment(boris, payload, amount))
    assert "ваш друг оплатил" in texts(app.telegram.sent_to(PAYER)).lower()

    stats = texts(await app.say(ADMIN_ID, "/stats"))
    assert "Кампании" in stats
    assert "summer: регистраций 2 · пробных 1 · первых оплат 1 · 525 ⭐" in stats
    async with app.services.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions == ["campaign_new"]
