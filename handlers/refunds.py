"""/refund CHARGE_ID: give a Telegram Stars payment back and take away what it gave (a Stars
subscription's charge stops its renewal too)."""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from db.models import User
from handlers.filters import IsAdmin
from locales import Translator
from locales.format import format_date
from services.payments import PaymentService

router = Router(name=__name__)

CHARGE_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,128}")


@router.message(Command("refund"), IsAdmin())
async def refund_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    payments: PaymentService,
) -> None:
    charge_id = (command.args or "").strip()
    if not CHARGE_ID.fullmatch(charge_id):
        await message.answer(t("refund-usage"))
        return
    payment, until = await payments.refund_stars(user.id, charge_id)
    shown = format_date(until) if until else "-"
    await message.answer(
        t("refund-done", user_id=str(payment.user_id), stars=payment.amount, until=shown)
    )
