"""How values are shown in texts: HTML-escaped strings, dates, sizes, durations, amounts."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Protocol

from locales.translator import Translator


class PlanLength(Protocol):
    """How long a plan is (services.plans.Plan)."""

    @property
    def days(self) -> int: ...
    @property
    def months(self) -> int: ...


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def format_date(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M UTC")


def format_amount(amount: int, currency: str) -> str:
    """A payment's amount: stars as they are, roubles from kopecks."""
    return f"{amount} ⭐" if currency == "XTR" else f"{amount / 100:.2f} ₽"


def plan_title(t: Translator, plan: PlanLength) -> str:
    """A plan by its length: "1 month", "3 months", "10 days"."""
    if plan.months:
        return t("plan-months", months=plan.months)
    return t("plan-days", days=plan.days)


def format_price(t: Translator, amount: int, currency: str) -> str:
    """A payment's amount in the user's words: stars as they are, roubles from kopecks."""
    if currency == "XTR":
        return t("price-stars", stars=amount)
    return t("price-rub", rub=f"{amount / 100:g}")


def format_bytes(t: Translator, count: int) -> str:
    value = float(count)
    for key in ("unit-bytes", "unit-kib", "unit-mib"):
        if value < 1024:
            return t(key, value=_short(value))
        value /= 1024
    return t("unit-gib", value=_short(value))


def format_ago(t: Translator, seconds: float) -> str:
    if seconds < 60:
        return t("ago-seconds", value=str(int(seconds)))
    if seconds < 3600:
        return t("ago-minutes", value=str(int(seconds // 60)))
    if seconds < 86400:
        return t("ago-hours", value=str(int(seconds // 3600)))
    return t("ago-days", value=str(int(seconds // 86400)))


def _short(value: float) -> str:
    return str(int(value)) if value >= 100 or value == int(value) else f"{value:.1f}"


def invoice_texts(
    t: Translator,
    *,
    sold: str,
    title: str,
    devices: int,
    gb: int,
    days: int,
    stars: int,
    subscription: bool,
) -> tuple[str, str]:
    """A Stars invoice's title and description for what it sells (`sold`: plan, gift, dev, gb)."""
    if subscription:
        return t("invoice-title", title=title), t("invoice-description-sub", stars=stars)
    if sold == "gift":
        return t("invoice-title-gift", title=title), t("invoice-description-gift", title=title)
    if sold == "dev":
        return t("invoice-title-device"), t("invoice-description-addon", days=days)
    if sold == "gb":
        return t("invoice-title-traffic", gb=gb), t("invoice-description-addon", days=days)
    return t("invoice-title", title=title), t("invoice-description", title=title, devices=devices)


def format_discount(t: Translator, kind: str, value: int) -> str:
    """A promo code's discount: "20%" for a percent, "50 ₽" for roubles off."""
    if kind == "percent":
        return t("promo-discount-percent", percent=value)
    return t("promo-discount-fixed", rub=value)
