"""Keyboards of paying: plans at the user's prices, the ways to pay, gifts and add-ons, the
payment link, the offer to accept, the trial's channel, the account buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    AccountAction,
    AccountCD,
    BuyCD,
    MenuAction,
    MenuCD,
    PayCD,
    PayMethod,
    PlanCD,
    Sale,
    TermsCD,
)
from locales import Translator
from locales.format import plan_title


class Plan(Protocol):
    """What the keyboards show of a plan (services.plans.Plan)."""

    @property
    def code(self) -> str: ...
    @property
    def days(self) -> int: ...
    @property
    def months(self) -> int: ...
    @property
    def rub(self) -> int: ...
    @property
    def stars(self) -> int: ...


class Price(Protocol):
    """What is charged (services.pricing.Price)."""

    @property
    def rub(self) -> int: ...
    @property
    def stars(self) -> int: ...
    @property
    def discounted(self) -> bool: ...


class Quote(Protocol):
    """A plan at one user's price (services.pricing.Quote)."""

    @property
    def plan(self) -> Plan: ...
    @property
    def price(self) -> Price: ...


class Ways(Protocol):
    """Which ways to pay are on (services.payments.PaymentService)."""

    @property
    def yookassa_enabled(self) -> bool: ...
    @property
    def sbp_enabled(self) -> bool: ...
    @property
    def stars_enabled(self) -> bool: ...


def plans_menu(t: Translator, quotes: Sequence[Quote], ways: Ways) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for quote in quotes:
        prices = [t("price-rub", rub=quote.price.rub)] if ways.yookassa_enabled else []
        prices += [t("price-stars", stars=quote.price.stars)] if ways.stars_enabled else []
        key = "plan-button-discounted" if quote.price.discounted else "plan-button"
        text = t(key, title=plan_title(t, quote.plan), prices=" / ".join(prices))
        builder.button(text=text, callback_data=PlanCD(code=quote.plan.code))
    builder.adjust(1)
    return builder.as_markup()


def pay_methods(
    t: Translator, quote: Quote, ways: Ways, *, stars_subscription: bool
) -> InlineKeyboardMarkup:
    """The ways to pay for one's own plan, the Stars subscription of a 30-day plan (at the
    plan's full price), and giving the plan as a gift."""
    builder = InlineKeyboard()
    code, price = quote.plan.code, quote.price
    if ways.yookassa_enabled:
        builder.button(
            text=t("pay-card", rub=price.rub), callback_data=PayCD(code=code, method=PayMethod.CARD)
        )
        builder.button(
            text=t("pay-card-auto", rub=price.rub),
            callback_data=PayCD(code=code, method=PayMethod.CARD_AUTO),
        )
    if ways.sbp_enabled:
        builder.button(
            text=t("pay-sbp", rub=price.rub), callback_data=PayCD(code=code, method=PayMethod.SBP)
        )
    if ways.stars_enabled:
        builder.button(
            text=t("pay-stars", stars=price.stars),
            callback_data=PayCD(code=code, method=PayMethod.STARS),
        )
    if stars_subscription:
        builder.button(
            text=t("pay-stars-sub", stars=quote.plan.stars),
            callback_data=PayCD(code=code, method=PayMethod.STARS_SUB),
        )
    builder.button(
        text=t("gift-button"),
        callback_data=BuyCD(sale=Sale.GIFT, code=code, method=PayMethod.MENU),
    )
    builder.button(text=t("pay-back"), callback_data=AccountCD(action=AccountAction.PLANS))
    builder.adjust(1)
    return builder.as_markup()


def buy_methods(
    t: Translator, sale: Sale, code: str, price: Price, ways: Ways
) -> InlineKeyboardMarkup:
    """The ways to pay for a gift or an add-on: once, by card, SBP or Stars."""
    builder = InlineKeyboard()
    if ways.yookassa_enabled:
        builder.button(
            text=t("pay-card", rub=price.rub),
            callback_data=BuyCD(sale=sale, code=code, method=PayMethod.CARD),
        )
    if ways.sbp_enabled:
        builder.button(
            text=t("pay-sbp", rub=price.rub),
            callback_data=BuyCD(sale=sale, code=code, method=PayMethod.SBP),
        )
    if ways.stars_enabled:
        builder.button(
            text=t("pay-stars", stars=price.stars),
            callback_data=BuyCD(sale=sale, code=code, method=PayMethod.STARS),
        )
    if sale is Sale.GIFT:
        builder.button(text=t("pay-back-plan"), callback_data=PlanCD(code=code))
    else:
        builder.button(text=t("pay-back-status"), callback_data=MenuCD(action=MenuAction.STATUS))
    builder.adjust(1)
    return builder.as_markup()


def pay_link(t: Translator, url: str, rub: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("pay-link", rub=rub), url=url)
    return builder.as_markup()


def subscription_link(t: Translator, url: str, stars: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("pay-stars-sub-link", stars=stars), url=url)
    return builder.as_markup()


def accept_terms(
    t: Translator, offer_url: str, privacy_url: str, sale: Sale, code: str, method: PayMethod
) -> InlineKeyboardMarkup:
    """The documents to read, and one tap that accepts them and goes on paying."""
    builder = InlineKeyboard()
    builder.button(text=t("terms-offer"), url=offer_url)
    builder.button(text=t("terms-privacy"), url=privacy_url)
    builder.button(
        text=t("terms-accept"), callback_data=TermsCD(sale=sale, code=code, method=method)
    )
    builder.adjust(2, 1)
    return builder.as_markup()


def join_channel(t: Translator, url: str) -> InlineKeyboardMarkup:
    """The trial's condition: join the channel, then check again."""
    builder = InlineKeyboard()
    builder.button(text=t("trial-channel-join"), url=url)
    builder.button(
        text=t("trial-channel-check"), callback_data=AccountCD(action=AccountAction.TRIAL)
    )
    builder.adjust(1)
    return builder.as_markup()


def renew_button(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=t("renew-button"), callback_data=AccountCD(action=AccountAction.PLANS))
    return builder.as_markup()


def offer(t: Translator, *, trial: bool, payments: bool) -> InlineKeyboardMarkup | None:
    """What a user without access can do by themselves: try, or pay."""
    builder = InlineKeyboard()
    if trial:
        builder.button(text=t("trial-button"), callback_data=AccountCD(action=AccountAction.TRIAL))
    if payments:
        builder.button(
            text=t("subscribe-button"), callback_data=AccountCD(action=AccountAction.PLANS)
        )
    builder.adjust(1)
    return builder.as_markup() if trial or payments else None


def account(
    t: Translator,
    *,
    payments: bool,
    auto_renew: bool,
    history: bool,
    stars_renewing: bool | None = None,
    addons: Sequence[tuple[Sale, str]] = (),
) -> InlineKeyboardMarkup | None:
    """Under /status: renew, cancel auto-renewal, the Stars subscription's switch (None: no
    subscription), add-ons (what, and the button's text), payment history, invite friends."""
    builder = InlineKeyboard()
    if payments:
        builder.button(text=t("renew-button"), callback_data=AccountCD(action=AccountAction.PLANS))
    if auto_renew:
        builder.button(
            text=t("cancel-renew-button"),
            callback_data=AccountCD(action=AccountAction.CANCEL_RENEW),
        )
    if stars_renewing is not None:
        action = AccountAction.STARS_OFF if stars_renewing else AccountAction.STARS_ON
        key = "stars-sub-off-button" if stars_renewing else "stars-sub-on-button"
        builder.button(text=t(key), callback_data=AccountCD(action=action))
    for sale, text in addons:
        builder.button(text=text, callback_data=BuyCD(sale=sale, code="", method=PayMethod.MENU))
    if history:
        builder.button(
            text=t("history-button"), callback_data=AccountCD(action=AccountAction.HISTORY)
        )
    if payments:
        builder.button(
            text=t("referral-button"), callback_data=AccountCD(action=AccountAction.REFERRAL)
        )
    builder.adjust(1)
    shown = payments or auto_renew or history or stars_renewing is not None
    return builder.as_markup() if shown else None
