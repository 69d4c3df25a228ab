"""Trial, Telegram Stars, reminders, expiry, referrals, refunds and traffic limits, as users see them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from db.models import AccessKind, Device, Payment, PaymentStatus, Reminder, User
from services.reminders import ReminderService
from tests.conftest import ADMIN_ID, App
from tests.money_support import PAYER, Shop

FRIEND = 5151


def texts(sent: list[Any]) -> str:
    return "\n".join(message.text or "" for message in sent)


async def peers(app: App, node: str = "nl1") -> set[str]:
    return set(app.wireguard.nodes[node].peers)


async def pay_stars(shop: Shop, user_id: int, plan_code: str = "1m") -> list[Any]:
    payload, amount = await shop.stars_invoice(user_id, plan_code)
    before = len(shop.app.telegram.sent_to(user_id))
    await shop.app.feed(shop.app.telegram.successful_payment(user_id, payload, amount))
    return shop.app.telegram.sent_to(user_id)[before:]


async def test_trial_once_per_account_then_refused(app: App) -> None:
    await app.add_node("nl1")
    (hello,) = await app.say(PAYER, "/start")
    (started,) = await app.press(PAYER, hello, hello.button("Попробовать")["callback_data"])
    assert "Пробный доступ открыт до 30.11.2026 12:00 UTC" in (started.text or "")
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is AccessKind.TRIAL
    assert user.access_until == app.clock() + timedelta(days=7)

    app.clock.advance(days=8)
    assert "уже был на этом аккаунте" in texts(await app.say(PAYER, "/trial"))
    user = await app.user(PAYER)
    assert user is not None and not user.has_access(app.clock())


async def test_trial_refused_while_access_runs_and_when_trials_are_off(app: App) -> None:
    await app.say(PAYER, "/start")
    await app.services.users.grant(PAYER, 30)
    assert "пробный период не нужен" in texts(await app.say(PAYER, "/trial"))
    user = await app.user(PAYER)
    assert user is not None and user.trial_used_at is None and user.access_kind is AccessKind.INVITE

    app.services.subscriptions.trial_days = 0
    assert "не предусмотрен" in texts(await app.say(FRIEND, "/trial"))
    friend = await app.user(FRIEND)
    assert friend is not None and friend.access_kind is AccessKind.NONE


async def test_stars_payment_extends_access_once_per_charge(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    answer = await pay_stars(shop, PAYER, "3m")
    assert "Доступ до 21.02.2027 12:00 UTC" in texts(answer)
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is AccessKind.PAID and user.plan_code == "3m"

    # Telegram delivers the same service message again: counted once.
    (paid,) = await shop.payments()
    payload, amount = await shop.stars_invoice(PAYER, "3m")
    update = app.telegram.successful_payment(PAYER, payload, amount)
    update["message"]["successful_payment"]["telegram_payment_charge_id"] = paid.provider_payment_id
    await app.feed(update)
    assert "уже учтён" in texts(app.telegram.sent_to(PAYER)[-1:])
    assert [p.status for p in await shop.payments()] == [PaymentStatus.SUCCEEDED]
    again = await app.user(PAYER)
    assert again is not None and again.access_until == user.access_until


async def test_pre_checkout_refuses_a_wrong_amount_and_another_users_invoice(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    payload, amount = await shop.stars_invoice(PAYER)
    assert amount == 150

    wrong = app.telegram.pre_checkout(PAYER, payload, amount - 1)
    await app.feed(wrong)
    answer = app.telegram.answered_pre_checkouts[wrong["pre_checkout_query"]["id"]]
    assert answer["ok"] is False and "устарело" in answer["error_message"]

    stolen = app.telegram.pre_checkout(FRIEND, payload, amount)
    await app.feed(stolen)
    assert app.telegram.answered_pre_checkouts[stolen["pre_checkout_query"]["id"]]["ok"] is False

    right = app.telegram.pre_checkout(PAYER, payload, amount)
    await app.feed(right)
    assert app.telegram.answered_pre_checkouts[right["pre_checkout_query"]["id"]]["ok"] is True
    assert await shop.payments() == []  # nothing is credited before successful_payment


async def test_forged_plan_and_pay_buttons_change_nothing(shop: Shop) -> None:
    app = shop.app
    (hello,) = await app.say(PAYER, "/start")
    assert "Такого тарифа больше нет" in texts(await app.press(PAYER, hello, "plan:99y"))
    assert "Такого тарифа больше нет" in texts(await app.press(PAYER, hello, "pay:99y:card"))
    assert "Такого тарифа больше нет" in texts(await app.press(PAYER, hello, "pay:99y:stars"))
    for data in ("pay:1m:cash", "plan:" + "x" * 60, "pay:1m"):
        assert "Что-то пошло не так" not in texts(await app.press(PAYER, hello, data))
    assert await shop.payments() == []
    assert shop.yookassa.requests == []
    assert not [c for c in app.telegram.calls if c.method == "sendInvoice"]


async def test_reminders_three_days_one_day_and_expiry_each_once(shop: Shop) -> None:
    app = shop.app
    await app.add_node("nl1")
    await app.say(PAYER, "/start")
    await shop.give_access(PAYER, 10)
    await app.say(PAYER, "/get_config")
    assert len(await peers(app)) == 1

    async def run() -> str:
        before = len(app.telegram.sent_to(PAYER))
        await app.services.reminders.run()
        return texts(app.telegram.sent_to(PAYER)[before:])

    assert await run() == ""
    app.clock.advance(days=7, hours=1)
    three = await run()
    assert "через 3 дня" in three
    assert await run() == ""

    # a restart: a new reminder service over the same database sends nothing twice
    restarted = ReminderService(
        app.services.sessions, app.services.reconcile, app.clock, app.services.reminders.notifier
    )
    await restarted.run()
    app.clock.advance(days=2)
    assert "завтра" in await run()
    await restarted.run()

    app.clock.advance(days=1)
    expired = await run()
    assert "Доступ закончился" in expired
    assert "До 06.12.2026 12:00 UTC VPN открывает только Telegram" in expired
    assert len(await peers(app)) == 1  # in grace: the peer stays, limited to Telegram
    device = (await app.devices())[0]
    assert app.wireguard.nodes["nl1"].in_grace == {device.address4}
    await restarted.run()

    app.clock.advance(days=3)
    assert await run() == ""  # the end of grace is applied, not announced
    assert await peers(app) == set()  # the peer left the node; the device row stays
    assert app.wireguard.nodes["nl1"].in_grace == set()
    assert await app.count(Device) == 1
    await restarted.run()
    async with app.services.sessions() as session:
        kinds = (await session.scalars(select(Reminder.kind).order_by(Reminder.id))).all()
    assert kinds == ["3d", "1d", "expired", "grace-end"]
    reminders = [
        m for m in app.telegram.sent_to(PAYER) if "⏳" in (m.text or "") or "🔒" in (m.text or "")
    ]
    assert len(reminders) == 3
    assert all(m.button("Продлить") for m in reminders)


async def test_renewal_after_expiry_brings_back_the_same_peer(shop: Shop) -> None:
    app = shop.app
    await app.add_node("nl1")
    await app.say(PAYER, "/start")
    await shop.give_access(PAYER, 1)
    await app.say(PAYER, "/get_config")
    (key_before,) = await peers(app)
    app.clock.advance(days=2)
    await app.services.reminders.run()
    assert await peers(app) == {key_before}  # in grace: Telegram only
    assert app.wireguard.nodes["nl1"].in_grace != set()

    await pay_stars(shop, PAYER)
    assert await peers(app) == {key_before}
    assert app.wireguard.nodes["nl1"].in_grace == set()  # full access at once
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + timedelta(days=30)


async def test_referral_bonus_on_first_payment_only(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    await shop.give_access(PAYER, 10)
    (text,) = await app.say(PAYER, "/referral")
    link = (text.text or "").split("start=")[1].split()[0]
    assert link.startswith("ref_")

    await app.say(FRIEND, f"/start {link}")
    friend = await app.user(FRIEND)
    assert friend is not None and friend.referred_by_id == PAYER

    before = await app.user(PAYER)
    assert before is not None and before.access_until is not None
    await pay_stars(shop, FRIEND)
    after = await app.user(PAYER)
    assert after is not None and after.access_until == before.access_until + timedelta(days=7)
    assert "ваш друг оплатил" in texts(app.telegram.sent_to(PAYER)[-1:]).lower()

    await pay_stars(shop, FRIEND)
    again = await app.user(PAYER)
    assert again is not None and again.access_until == after.access_until
    (text,) = await app.say(PAYER, "/referral")
    assert "Пришло по ссылке: 1, оплатили: 1" in (text.text or "")


async def test_self_referral_loops_and_late_links_are_refused(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    (text,) = await app.say(PAYER, "/referral")
    own = (text.text or "").split("start=")[1].split()[0]
    await app.say(PAYER, f"/start {own}")
    payer = await app.user(PAYER)
    assert payer is not None and payer.referred_by_id is None

    await app.say(FRIEND, f"/start {own}")
    (text,) = await app.say(FRIEND, "/referral")
    friends = (text.text or "").split("start=")[1].split()[0]
    third = 6161
    await app.say(third, "/start")  # started before: a link used later does not count
    await app.say(third, f"/start {friends}")
    for odd in ("ref_", "ref_../../", "ref_" + "a" * 40, "ref_ZZZ"):
        await app.say(7171, f"/start {odd}")
    async with app.services.sessions() as session:
        links = dict((await session.execute(select(User.id, User.referred_by_id))).all())
    assert links[PAYER] is None and links[FRIEND] == PAYER and links[third] is None
    assert links[7171] is None


async def test_admin_refunds_a_stars_payment_and_the_days_go(shop: Shop) -> None:
    app = shop.app
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    await pay_stars(shop, PAYER)
    await app.say(PAYER, "/get_config")
    (payment,) = await shop.payments()

    assert "Использование" in texts(await app.say(ADMIN_ID, "/refund"))
    assert "не найден" in texts(await app.say(ADMIN_ID, "/refund stxNOPE"))
    assert "Использование" in texts(await app.say(ADMIN_ID, "/refund ; rm -rf /"))
    assert "не найден" not in texts(await app.say(PAYER, f"/refund {payment.provider_payment_id}"))

    done = texts(await app.say(ADMIN_ID, f"/refund {payment.provider_payment_id}"))
    assert f"150 ⭐ возвращены пользователю {PAYER}" in done
    assert payment.provider_payment_id in app.telegram.refunded
    (refunded,) = await shop.payments()
    assert refunded.status is PaymentStatus.REFUNDED
    user = await app.user(PAYER)
    assert user is not None and not user.has_access(app.clock())
    (device,) = await app.devices()  # the days are gone: grace, as for any end of access
    assert app.wireguard.nodes["nl1"].in_grace == {device.address4}
    assert "не найден" in texts(await app.say(ADMIN_ID, f"/refund {payment.provider_payment_id}"))


async def test_traffic_limit_turns_off_until_the_next_period(
    tmp_path: Any, telegram: Any, yookassa: Any, database_url: str | None
) -> None:
    from tests.money_support import open_shop

    shop, runner = await open_shop(
        tmp_path, telegram, yookassa, database_url, plans="1m:30:199:150:3:1,3m:90:499:375:3:1"
    )
    try:
        app = shop.app
        await app.add_node("nl1")
        await app.say(PAYER, "/start")
        await pay_stars(shop, PAYER, "3m")
        await app.say(PAYER, "/get_config")
        assert await app.services.traffic.enforce() == 0  # starts the period
        async with app.services.sessions.begin() as session:
            device = (await session.scalars(select(Device))).one()
            device.rx_seen = 2**30  # 1 GiB through the node
        assert await app.services.traffic.enforce() == 1
        assert await peers(app) == set()
        assert "Трафик по вашему тарифу" in texts(app.telegram.sent_to(PAYER)[-1:])
        (status,) = await app.say(PAYER, "/status")
        assert "израсходован" in (status.text or "")

        app.clock.advance(days=30, minutes=1)
        assert await app.services.traffic.enforce() == 1
        assert len(await peers(app)) == 1
        assert "снова работает" in texts(app.telegram.sent_to(PAYER)[-1:])
    finally:
        await runner.cleanup()
        await shop.app.close()


async def test_status_shows_plan_end_and_payment_history(shop: Shop) -> None:
    app = shop.app
    await app.say(PAYER, "/start")
    await pay_stars(shop, PAYER, "12m")
    (status,) = await app.say(PAYER, "/status")
    assert "Доступ до" in (status.text or "") or "23.11.2027" in (status.text or "")
    assert "Тариф: 12 месяцев" in (status.text or "")
    (history,) = await app.press(PAYER, status, status.button("История")["callback_data"])
    assert "12 месяцев · 1\xa0250 ⭐ · оплачен" in (history.text or "")


async def test_payments_not_set_up_says_so(app: App) -> None:
    (answer,) = await app.say(PAYER, "/subscribe")
    assert "Оплата пока не настроена" in (answer.text or "")
    assert [b["text"] for b in answer.buttons] == ["🎁 Попробовать бесплатно"]
    async with app.services.sessions() as session:
        assert (await session.scalars(select(Payment))).all() == []


async def test_admin_sees_plan_payments_referrer_and_revenue(shop: Shop) -> None:
    app = shop.app
    await app.say(ADMIN_ID, "/start")
    await app.say(PAYER, "/start")
    (text,) = await app.say(PAYER, "/referral")
    link = (text.text or "").split("start=")[1].split()[0]
    await app.say(FRIEND, f"/start {link}")
    (hello,) = await app.say(6262, "/start")
    await app.press(6262, hello, hello.button("Попробовать")["callback_data"])
    await pay_stars(shop, FRIEND, "3m")

    (card,) = await app.say(ADMIN_ID, f"/user {FRIEND}")
    body = card.text or ""
    assert "Оплачено · тариф 3m" in body
    assert f"Пришёл по ссылке Test (id {PAYER})" in body
    (payment,) = await shop.payments(FRIEND)
    assert f"375 ⭐ · stars · оплачен · {payment.provider_payment_id}" in body

    (listing,) = await app.say(ADMIN_ID, "/users")

    async def filtered(name: str) -> str:
        current = next(
            m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == listing.message_id
        )
        await app.press(ADMIN_ID, current, current.button(name)["callback_data"])
        edited = next(
            m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == listing.message_id
        )
        return " ".join(b["text"] for b in edited.buttons)

    paid = await filtered("Оплатили")
    assert str(FRIEND) in paid and str(6262) not in paid
    trial = await filtered("Пробный")
    assert str(6262) in trial and str(FRIEND) not in trial

    stats = texts(await app.say(ADMIN_ID, "/stats"))
    assert "За 30 дней: 375 ⭐ · платили: 1" in stats
    assert "Пробных периодов: 1 · оплатили потом: 0 (0%)" in stats
