"""/subscribe: plans, paying by card (YooKassa) or Telegram Stars, the trial, auto-renewal."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from db.models import User
from handlers.common import acknowledge
from keyboards.callbacks import AccountAction, AccountCD, PayCD, PayMethod, PlanCD
from keyboards.menus import main_menu
from keyboards.subscribe import (
    offer,
    pay_link,
    pay_methods,
    plans_menu,
)
from locales import Translator
from locales.format import format_date, format_price, plan_title
from services.errors import PlanNotFound
from services.payments import STARS_CURRENCY, PaymentService
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
    markup = plans_menu(
        t, payments.plans, rub=payments.yookassa_enabled, stars=payments.stars_enabled
    )
    await bot.send_message(user.id, t("plans-title"), reply_markup=markup)


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
    query: CallbackQuery, callback_data: PlanCD, t: Translator, payments: PaymentService
) -> None:
    plan = next((p for p in payments.plans if p.code == callback_data.code), None)
    if plan is None or not payments.enabled:
        raise PlanNotFound()
    await query.answer()
    traffic = t("plan-traffic", gb=plan.traffic_gb) if plan.traffic_gb else t("plan-unlimited")
    text = t("plan-details", title=plan_title(t, plan), devices=plan.devices, traffic=traffic)
    markup = pay_methods(t, plan, rub=payments.yookassa_enabled, stars=payments.stars_enabled)
    if query.message:
        await query.message.answer(text, reply_markup=markup)


@router.callback_query(PayCD.filter(F.method.in_([PayMethod.CARD, PayMethod.CARD_AUTO])))
async def pay_by_card(
    query: CallbackQuery,
    callback_data: PayCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    await query.answer(t("pay-creating"))
    auto = callback_data.method is PayMethod.CARD_AUTO
    url = await payments.yookassa_checkout(user.id, callback_data.code, auto)
    plan = next(p for p in payments.plans if p.code == callback_data.code)
    key = "pay-link-text-auto" if auto else "pay-link-text"
    await bot.send_message(user.id, t(key, rub=plan.rub), reply_markup=pay_link(t, url, plan.rub))


@router.callback_query(PayCD.filter(F.method == PayMethod.STARS))
async def pay_by_stars(
    query: CallbackQuery,
    callback_data: PayCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    plan, payload = payments.stars_invoice(user.id, callback_data.code)
    await query.answer()
    title = plan_title(t, plan)
    await bot.send_invoice(
        user.id,
        title=t("invoice-title", title=title),
        description=t("invoice-description", title=title, devices=plan.devices),
        payload=payload,
        currency=STARS_CURRENCY,
        prices=[LabeledPrice(label=title, amount=plan.stars)],
    )


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, t: Translator, payments: PaymentService) -> None:
    """Answered at once (Telegram waits 10 s): the plan must exist and the price must match."""
    if payments.stars_checkout(
        query.invoice_payload, query.currency, query.total_amount, query.from_user.id
    ):
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=t("checkout-refused"))


@router.message(F.successful_payment)
async def stars_paid(message: Message, user: User, t: Translator, payments: PaymentService) -> None:
    """Telegram took the Stars: stored first, then credited or held for the admins (a banned
    payer's charge comes here too)."""
    paid = message.successful_payment
    assert paid is not None
    outcome = await payments.stars_paid(
        user.id,
        paid.invoice_payload,
        paid.currency,
        paid.total_amount,
        paid.telegram_payment_charge_id,
    )
    if outcome.held:
        await message.answer(t("paid-held"))
    elif outcome.credit is None:
        await message.answer(t("paid-already"))
    else:
        until = format_date(outcome.credit.access_until)
        await message.answer(t("paid-credited", until=until), reply_markup=main_menu(t))


@router.message(Command("trial"))
@router.callback_query(AccountCD.filter(F.action == AccountAction.TRIAL))
async def trial(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    until = await subscriptions.start_trial(user.id)
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
        plan = subscriptions.plan(payment.plan_code)
        title = plan_title(t, plan) if plan else payment.plan_code
        amount = format_price(t, payment.amount, payment.currency)
        lines.append(
            t(
                "history-line",
                date=format_date(payment.credited_at or payment.created_at),
                title=title,
                amount=amount,
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
        link=f"https://t.me/{me.username}?start=ref_{code}",
        days=subscriptions.referral_bonus_days,
        invited=invited,
        paid=paid,
    )
