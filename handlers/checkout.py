"""Paying for a plan, a gift or an add-on: by card or SBP (a YooKassa page), by Telegram Stars
(an invoice, or a subscription link for a 30-day plan), after the offer is accepted in one tap;
then Telegram's pre-checkout and the charge it made."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from db.models import Purpose, User
from keyboards.callbacks import BuyCD, PayCD, PayMethod, Sale, TermsCD
from keyboards.menus import main_menu
from keyboards.subscribe import accept_terms, buy_methods, pay_link, subscription_link
from locales import Translator
from locales.format import format_date, invoice_texts, plan_title
from services.payments import STARS_CURRENCY, PaymentService, StarsInvoice, Way
from services.pricing import Quote

router = Router(name=__name__)

YOOKASSA_WAYS = {
    PayMethod.CARD: Way.CARD,
    PayMethod.CARD_AUTO: Way.CARD_AUTO,
    PayMethod.SBP: Way.SBP,
}
STARS_WAYS = (PayMethod.STARS, PayMethod.STARS_SUB)


@router.callback_query(PayCD.filter(F.method.in_([*YOOKASSA_WAYS, *STARS_WAYS])))
async def pay_for_plan(
    query: CallbackQuery,
    callback_data: PayCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    await buy(query, user, t, payments, bot, Sale.PLAN, callback_data.code, callback_data.method)


@router.callback_query(BuyCD.filter(F.method == PayMethod.MENU))
async def ways_to_buy(
    query: CallbackQuery,
    callback_data: BuyCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    """A gift or an add-on at its price, and the ways to pay for it."""
    sale = callback_data.sale
    quote = await payments.quote(user.id, Purpose(sale.value), callback_data.code or None)
    await query.answer()
    code = quote.plan.code if sale is Sale.GIFT else ""
    markup = buy_methods(t, sale, code, quote.price, payments)
    await bot.send_message(user.id, offer_text(t, quote), reply_markup=markup)


@router.callback_query(BuyCD.filter(F.method.in_([*YOOKASSA_WAYS, PayMethod.STARS])))
async def pay_for_other(
    query: CallbackQuery,
    callback_data: BuyCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    data = callback_data
    await buy(query, user, t, payments, bot, data.sale, data.code, data.method)


@router.callback_query(TermsCD.filter(F.method.in_([*YOOKASSA_WAYS, *STARS_WAYS])))
async def terms_accepted(
    query: CallbackQuery,
    callback_data: TermsCD,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    """One tap: the acceptance is recorded with its time, and paying goes on as chosen."""
    await payments.terms.accept(user.id)
    await bot.send_message(user.id, t("terms-accepted"))
    data = callback_data
    await buy(query, user, t, payments, bot, data.sale, data.code, data.method)


async def buy(
    query: CallbackQuery,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
    sale: Sale,
    code: str,
    method: PayMethod,
) -> None:
    """Pay as chosen; first the offer to accept, when it is required and not accepted yet."""
    purpose, plan_code = Purpose(sale.value), code or None
    terms = payments.terms
    if terms.offer_url and terms.privacy_url and not await terms.accepted(user.id):
        await query.answer()
        markup = accept_terms(t, terms.offer_url, terms.privacy_url, sale, code, method)
        await bot.send_message(user.id, t("terms-ask"), reply_markup=markup)
        return
    if method in YOOKASSA_WAYS:
        await query.answer(t("pay-creating"))
        way = YOOKASSA_WAYS[method]
        checkout = await payments.yookassa_checkout(user.id, plan_code, way, purpose=purpose)
        rub = checkout.quote.price.rub
        markup = pay_link(t, checkout.url, rub)
        await bot.send_message(user.id, link_text(t, checkout.quote, way), reply_markup=markup)
        return
    invoice = await payments.stars_invoice(
        user.id, plan_code, purpose=purpose, subscription=method is PayMethod.STARS_SUB
    )
    await query.answer()
    title, description = texts_of(t, invoice)
    prices = [LabeledPrice(label=title, amount=invoice.stars)]
    if not invoice.subscription:
        await bot.send_invoice(
            user.id,
            title=title,
            description=description,
            payload=invoice.payload,
            currency=STARS_CURRENCY,
            prices=prices,
        )
        return
    url = await bot.create_invoice_link(
        title=title,
        description=description,
        payload=invoice.payload,
        currency=STARS_CURRENCY,
        prices=prices,
        subscription_period=invoice.period,
    )
    await bot.send_message(
        user.id,
        t("pay-stars-sub-text", stars=invoice.stars),
        reply_markup=subscription_link(t, url, invoice.stars),
    )


def texts_of(t: Translator, invoice: StarsInvoice) -> tuple[str, str]:
    quote = invoice.quote
    return invoice_texts(
        t,
        sold=quote.purpose.value,
        title=plan_title(t, quote.plan),
        devices=quote.plan.devices,
        gb=quote.gb,
        days=quote.price.days,
        stars=invoice.stars,
        subscription=invoice.subscription,
    )


def link_text(t: Translator, quote: Quote, way: Way) -> str:
    """What the YooKassa link message says: the sum, and what follows the payment."""
    price = quote.price
    if way is Way.SBP:
        return t("pay-link-text-sbp", rub=price.rub)
    if quote.purpose is Purpose.GIFT:
        return t("pay-link-text-gift", rub=price.rub)
    if quote.purpose is not Purpose.PLAN:
        return t("pay-link-text-addon", rub=price.rub)
    if way is Way.CARD_AUTO:
        if price.discounted:
            return t("pay-link-text-auto-discount", rub=price.rub, full=price.full_rub)
        return t("pay-link-text-auto", rub=price.rub)
    return t("pay-link-text", rub=price.rub)


def offer_text(t: Translator, quote: Quote) -> str:
    """A gift or an add-on, before the ways to pay for it."""
    title = plan_title(t, quote.plan)
    if quote.purpose is Purpose.GIFT:
        return t("gift-offer", title=title, days=quote.plan.days)
    if quote.purpose is Purpose.DEVICE:
        return t("addon-device-offer", days=quote.price.days)
    return t("addon-traffic-offer", gb=quote.gb, days=quote.price.days)


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, t: Translator, payments: PaymentService) -> None:
    """Answered at once (Telegram waits 10 s): what is sold must be offered to this user now,
    at this price, and the offer accepted."""
    if await payments.stars_checkout(
        query.invoice_payload, query.currency, query.total_amount, query.from_user.id
    ):
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=t("checkout-refused"))


@router.message(F.successful_payment)
async def stars_paid(message: Message, user: User, t: Translator, payments: PaymentService) -> None:
    """Telegram took the Stars (a subscription's renewal too): stored first, then credited or
    held for the admins (a banned payer's charge comes here too). A gift's buyer gets its link,
    an add-on's its end, from the service."""
    paid = message.successful_payment
    assert paid is not None
    outcome = await payments.stars_paid(
        user.id,
        paid.invoice_payload,
        paid.currency,
        paid.total_amount,
        paid.telegram_payment_charge_id,
        renewal=bool(paid.is_recurring and not paid.is_first_recurring),
    )
    if outcome.held:
        await message.answer(t("paid-held"))
    elif outcome.credit is None:
        await message.answer(t("paid-already"))
    elif outcome.credit.purpose is Purpose.PLAN:
        until = format_date(outcome.credit.access_until)
        await message.answer(t("paid-credited", until=until), reply_markup=main_menu(t))
