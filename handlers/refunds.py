"""/refund CHARGE_ID: give a Telegram Stars payment back and take its days away."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from db.models import User
from handlers.filters import IsAdmin
from locales import Translator
from locales.format import esc, format_date
from services.payments import PaymentService

log = logging.getLogger(__name__)
router = Router(name=__name__)

CHARGE_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,128}")


@router.message(Command("refund"), IsAdmin())
async def refund_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    payments: PaymentService,
    bot: Bot,
) -> None:
    charge_id = (command.args or "").strip()
    if not CHARGE_ID.fullmatch(charge_id):
        await message.answer(t("refund-usage"))
        return
    payment = await payments.stars_payment(charge_id)
    try:
        await bot.refund_star_payment(payment.user_id, charge_id)
    except TelegramAPIError as error:
        log.warning("refund of payment %s refused: %s", payment.id, error.message)
        await message.answer(t("refund-failed", reason=esc(error.message)))
        return
    until = await payments.refunded(user.id, payment.id)
    shown = format_date(until) if until else "-"
    await message.answer(
        t("refund-done", user_id=str(payment.user_id), stars=payment.amount, until=shown)
    )
