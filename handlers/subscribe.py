"""/subscribe: plans at the user's prices and the ways to pay for one; the trial (on a channel's
condition), auto-renewal and the Stars subscription's switch, payment history, referrals."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from db.models import Payment, Purpose, User
from handlers.common import acknowledge
from keyboards.callbacks import AccountAction, AccountCD, PlanCD
from keyboards.menus import main_menu
from keyboards.subscribe import join_channel, offer, pay_methods, plans_menu
from locales import Translator
from locales.format import esc, format_date, format_discount, format_price, plan_title
from services.deeplinks import REFERRAL
from services.errors import PaymentsOff, TrialNeedsChannel
from services.payments import PaymentService
from services.pricing import Quote
from services.subscriptions import SubscriptionService

router = Router(name=__name__)


async def show_plans(
    bot: Bot, user: User, t: Translator, payments: PaymentService, subs: SubscriptionService
) -> None:
    if not payments.enabled:
        subscription = await subs.subscription(user.id)
        markup = offer(t, trial=subscription.trial_available, payments=False)
        await bot.send_message(user.id, t("payments-off"), reply_markup=markup)
        return
    quotes = await payments.plan_quotes(user.id)
    text = t("plans-title")
    discount = next((q.discount for q in quotes if q.price.discounted), None)
    if discount is not None:
        words = format_discount(t, discount.kind, discount.value)
        text += "\n" + t("plans-promo", code=esc(discount.code), discount=words)
        if discount.held_by is not None:
            text += "\n" + t("promo-held-note")
    await bot.send_message(user.id, text, reply_markup=plans_menu(t, quotes, payments))


def price_line(t: Translator, quote: Quote, payments: PaymentService) -> str:
    """The discounted price next to the full one, in the currencies on sale."""
    price = quote.price
    now = [t("price-rub", rub=price.rub)] if payments.yookassa_enabled else []
    now += [t("price-stars", stars=price.stars)] if payments.stars_enabled else []
    was = [t("price-rub", rub=price.full_rub)] if payments.yookassa_enabled else []
    was += [t("price-stars", stars=price.full_stars)] if payments.stars_enabled else []
    return t("plan-price-discounted", price=" / ".join(now), full=" / ".join(was))


@router.message(Command("subscribe"))
@router.callback_query(AccountCD.filter(F.action == AccountAction.PLANS))
async def plans_screen(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    payments: PaymentService,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    await acknowledge(event)
    await show_plans(bot, user, t, payments, subscriptions)


@router.callback_query(PlanCD.filter())
async def plan_chosen(
    query: CallbackQuery,
    callback_data: PlanCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    if not payments.enabled:
        raise PaymentsOff()
    quote = await payments.quote(user.id, Purpose.PLAN, callback_data.code)
    await query.answer()
    plan = quote.plan
    traffic = t("plan-traffic", gb=plan.traffic_gb) if plan.traffic_gb else t("plan-unlimited")
    text = t("plan-details", title=plan_title(t, plan), devices=plan.devices, traffic=traffic)
    if quote.price.discounted:
        text += "\n" + price_line(t, quote, payments)
        if quote.discount is not None and quote.discount.held_by is not None:
            text += "\n" + t("promo-held-note")
    markup = pay_methods(t, quote, payments, stars_subscription=payments.renews_with_stars(plan))
    await bot.send_message(user.id, text, reply_markup=markup)


@router.message(Command("trial"))
@router.callback_query(AccountCD.filter(F.action == AccountAction.TRIAL))
async def trial(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    try:
        until = await subscriptions.start_trial(user.id)
    except TrialNeedsChannel as needed:
        await acknowledge(event)
        url = str(needed.args_for_text["url"])
        await bot.send_message(user.id, t("trial-channel"), reply_markup=join_channel(t, url))
        return
    await acknowledge(event)
    await bot.send_message(
        user.id, t("trial-started", until=format_date(until)), reply_markup=main_menu(t)
    )


@router.callback_query(AccountCD.filter(F.action == AccountAction.CANCEL_RENEW))
async def cancel_renew(
    query: CallbackQuery, user: User, t: Translator, subscriptions: SubscriptionService, bot: Bot
) -> None:
    until = await subscriptions.cancel_auto_renew(user.id)
    await query.answer()
    text = t("renew-cancelled", until=format_date(until)) if until else t("renew-cancelled-open")
    await bot.send_message(user.id, text)


@router.callback_query(
    AccountCD.filter(F.action.in_([AccountAction.STARS_OFF, AccountAction.STARS_ON]))
)
async def stars_subscription_switch(
    query: CallbackQuery,
    callback_data: AccountCD,
    user: User,
    t: Translator,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    renewing = callback_data.action is AccountAction.STARS_ON
    until = await subscriptions.set_stars_subscription(user.id, renewing=renewing)
    await query.answer()
    key = "stars-sub-turned-on" if renewing else "stars-sub-turned-off"
    await bot.send_message(user.id, t(key, until=format_date(until)))


def payment_title(t: Translator, payment: Payment, subscriptions: SubscriptionService) -> str:
    """What a payment bought, as the history shows it."""
    plan = subscriptions.plan(payment.plan_code)
    title = plan_title(t, plan) if plan else payment.plan_code
    if payment.purpose is Purpose.PLAN:
        return title
    return t("history-purpose", purpose=payment.purpose.value, title=title)


@router.callback_query(AccountCD.filter(F.action == AccountAction.HISTORY))
async def history(
    query: CallbackQuery, user: User, t: Translator, subscriptions: SubscriptionService, bot: Bot
) -> None:
    await query.answer()
    payments = await subscriptions.history(user.id)
    if not payments:
        await bot.send_message(user.id, t("history-empty"))
        return
    lines = [t("history-title")]
    for payment in payments:
        lines.append(
            t(
                "history-line",
                date=format_date(payment.credited_at or payment.created_at),
                title=payment_title(t, payment, subscriptions),
                amount=format_price(t, payment.amount, payment.currency),
                status=payment.status.value,
            )
        )
    await bot.send_message(user.id, "\n".join(lines))


@router.message(Command("referral"))
@router.callback_query(AccountCD.filter(F.action == AccountAction.REFERRAL))
async def referral(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    await acknowledge(event)
    await bot.send_message(user.id, await referral_text(user, t, subscriptions, bot))


async def referral_text(
    user: User, t: Translator, subscriptions: SubscriptionService, bot: Bot
) -> str:
    code = await subscriptions.referral_code(user.id)
    me = await bot.me()
    invited, paid = await subscriptions.referral_count(user.id)
    return t(
        "referral-text",
        link=f"https://t.me/{me.username}?start={REFERRAL}{code}",
        days=subscriptions.referral_bonus_days,
        invited=invited,
        paid=paid,
    )
