"""Keyboards of paying: plans, payment methods, the payment link, the account buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.callbacks import AccountAction, AccountCD, PayCD, PayMethod, PlanCD
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


def plans_menu(
    t: Translator, plans: Sequence[Plan], *, rub: bool, stars: bool
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for plan in plans:
        prices = [t("price-rub", rub=plan.rub)] if rub else []
        prices += [t("price-stars", stars=plan.stars)] if stars else []
        text = t("plan-button", title=plan_title(t, plan), prices=" / ".join(prices))
        builder.button(text=text, callback_data=PlanCD(code=plan.code))
    builder.adjust(1)
    return builder.as_markup()


def pay_methods(t: Translator, plan: Plan, *, rub: bool, stars: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if rub:
        builder.button(
            text=t("pay-card", rub=plan.rub),
            callback_data=PayCD(code=plan.code, method=PayMethod.CARD),
        )
        builder.button(
            text=t("pay-card-auto", rub=plan.rub),
            callback_data=PayCD(code=plan.code, method=PayMethod.CARD_AUTO),
        )
    if stars:
        builder.button(
            text=t("pay-stars", stars=plan.stars),
            callback_data=PayCD(code=plan.code, method=PayMethod.STARS),
        )
    builder.button(text=t("pay-back"), callback_data=AccountCD(action=AccountAction.PLANS))
    builder.adjust(1)
    return builder.as_markup()


def pay_link(t: Translator, url: str, rub: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("pay-link", rub=rub), url=url)
    return builder.as_markup()


def renew_button(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("renew-button"), callback_data=AccountCD(action=AccountAction.PLANS))
    return builder.as_markup()


def offer(t: Translator, *, trial: bool, payments: bool) -> InlineKeyboardMarkup | None:
    """What a user without access can do by themselves: try, or pay."""
    builder = InlineKeyboardBuilder()
    if trial:
        builder.button(text=t("trial-button"), callback_data=AccountCD(action=AccountAction.TRIAL))
    if payments:
        builder.button(
            text=t("subscribe-button"), callback_data=AccountCD(action=AccountAction.PLANS)
        )
    builder.adjust(1)
    return builder.as_markup() if trial or payments else None


def account(
    t: Translator, *, payments: bool, auto_renew: bool, history: bool
) -> InlineKeyboardMarkup | None:
    """Under /status: renew, cancel auto-renewal, payment history, invite friends."""
    builder = InlineKeyboardBuilder()
    if payments:
        builder.button(text=t("renew-button"), callback_data=AccountCD(action=AccountAction.PLANS))
    if auto_renew:
        builder.button(
            text=t("cancel-renew-button"),
            callback_data=AccountCD(action=AccountAction.CANCEL_RENEW),
        )
    if history:
        builder.button(
            text=t("history-button"), callback_data=AccountCD(action=AccountAction.HISTORY)
        )
    if payments:
        builder.button(
            text=t("referral-button"), callback_data=AccountCD(action=AccountAction.REFERRAL)
        )
    builder.adjust(1)
    return builder.as_markup() if payments or auto_renew or history else None
