"""Promo codes: /promo CODE (and start=promo_CODE) for users; /promo_new and /promos for admins."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from db.models import PromoCode, PromoKind, User
from handlers.common import parse_number, parsed
from handlers.filters import IsAdmin
from handlers.subscribe import show_plans
from keyboards.menus import main_menu
from locales import Translator
from locales.format import esc, format_amount, format_date, format_discount
from services.deeplinks import PROMO
from services.errors import InvalidInput
from services.payments import PaymentService
from services.promos import BOUNDS, CODE_SHAPE, MAX_USES, PromoService, PromoSpec
from services.subscriptions import SubscriptionService

router = Router(name=__name__)

DISCOUNT = re.compile(r"([0-9]{1,7})(%|₽|r|р|d|д)")
UNITS = {"%": PromoKind.PERCENT, "₽": PromoKind.FIXED, "r": PromoKind.FIXED, "р": PromoKind.FIXED}
PLAN_CODES = re.compile(r"[a-z0-9]{1,16}(,[a-z0-9]{1,16}){0,15}")
LISTED = 30  # /promos shows the newest codes


def parse_promo(text: str) -> PromoSpec:
    """`CODE DISCOUNT USES UNTIL [PLANS]`: SUMMER 20% 100 2026-12-31 1m,3m (20% off, 50₽ off,
    or 7d free days); the code works through the whole UNTIL day (UTC)."""
    parts = text.split()
    if not 4 <= len(parts) <= 5:
        raise InvalidInput()
    code, discount, uses, until, *plans = parts
    match = DISCOUNT.fullmatch(discount.lower())
    if match is None or not CODE_SHAPE.fullmatch(code.upper()):
        raise InvalidInput()
    kind = UNITS.get(match.group(2), PromoKind.DAYS)
    value = int(match.group(1))
    if not 0 < value <= BOUNDS[kind]:
        raise InvalidInput()
    if plans and (kind is PromoKind.DAYS or not PLAN_CODES.fullmatch(plans[0])):
        raise InvalidInput()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", until):
        raise InvalidInput()
    day = date.fromisoformat(until)  # ValueError for a day that does not exist
    return PromoSpec(
        code=code.upper(),
        kind=kind,
        value=value,
        uses=parse_number(uses, 1, MAX_USES),
        valid_until=datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1),
        plans=tuple(dict.fromkeys(plans[0].split(","))) if plans else (),
    )


def promo_terms(t: Translator, promo: PromoCode) -> str:
    """What a code gives, on which plans: "20% on 1m, 3m", "7 free days"."""
    if promo.kind is PromoKind.DAYS:
        return t("promo-gives-days", days=promo.value)
    amount = format_discount(t, promo.kind, promo.value)
    plans = ", ".join(sorted(promo.plan_codes)) or t("promo-all-plans")
    return t("promo-gives-discount", discount=amount, plans=esc(plans))


async def redeem(
    bot: Bot,
    user: User,
    t: Translator,
    code: str,
    promos: PromoService,
    payments: PaymentService,
    subscriptions: SubscriptionService,
) -> None:
    """Take the code and say what it gave: free days now, or the plans at the new prices."""
    redeemed = await promos.redeem(user.id, code)
    promo = redeemed.promo
    if promo.kind is PromoKind.DAYS:
        until = redeemed.access_until
        text = t("promo-days-taken", days=promo.value, until=format_date(until) if until else "∞")
        await bot.send_message(user.id, text, reply_markup=main_menu(t))
        return
    await bot.send_message(
        user.id, t("promo-taken", code=esc(promo.code), terms=promo_terms(t, promo))
    )
    await show_plans(bot, user, t, payments, subscriptions)


@router.message(Command("promo"))
async def promo_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    promos: PromoService,
    payments: PaymentService,
    subscriptions: SubscriptionService,
    bot: Bot,
) -> None:
    code = parsed(parse_code, command.args, "promo-usage")
    await redeem(bot, user, t, code, promos, payments, subscriptions)


def parse_code(text: str) -> str:
    """One code as a user typed it (its shape is the service's to check)."""
    if len(text.split()) != 1:
        raise InvalidInput()
    return text


@router.message(Command("promo_new"), IsAdmin())
async def promo_new(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    promos: PromoService,
    bot: Bot,
) -> None:
    spec = parsed(parse_promo, command.args, "promo-new-usage")
    promo = await promos.create(user.id, spec)
    me = await bot.me()
    await message.answer(
        t(
            "promo-created",
            code=esc(promo.code),
            terms=promo_terms(t, promo),
            uses=promo.max_uses,
            until=format_date(promo.valid_until),
            link=f"https://t.me/{me.username}?start={PROMO}{promo.code}",
        )
    )


@router.message(Command("promos"), IsAdmin())
async def promo_list(message: Message, t: Translator, promos: PromoService) -> None:
    listed = (await promos.overview())[:LISTED]
    if not listed:
        await message.answer(t("promos-empty"))
        return
    lines = [t("promos-title")]
    for stats in listed:
        promo = stats.promo
        revenue = " + ".join(
            format_amount(amount, currency) for currency, amount in sorted(stats.revenue.items())
        )
        lines.append(
            t(
                "promos-line",
                code=esc(promo.code),
                terms=promo_terms(t, promo),
                used=promo.used,
                uses=promo.max_uses,
                until=format_date(promo.valid_until),
                payments=stats.payments,
                revenue=revenue or "0",
            )
        )
    await message.answer("\n".join(lines))
