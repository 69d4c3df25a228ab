"""/invite makes a deep link that grants access; /start inv_<code> takes it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from db.models import User
from handlers.filters import IsAdmin
from handlers.start import welcome
from keyboards.menus import main_menu
from locales import Translator
from locales.format import format_date
from services.errors import InvalidInput
from services.invites import (
    DEFAULT_DAYS,
    START_PREFIX,
    InviteExpired,
    InviteService,
    InviteUnknown,
    InviteUsedUp,
)
from services.users import UserService

router = Router(name=__name__)


def parse_invite(args: str | None) -> tuple[int, int]:
    """`[days] [uses]` into numbers (30 days, one use by default); InvalidInput otherwise."""
    parts = (args or "").split()
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
        raise InvalidInput()
    numbers = [int(part) for part in parts]
    days = numbers[0] if numbers else DEFAULT_DAYS
    uses = numbers[1] if len(numbers) == 2 else 1
    return days, uses


@router.message(Command("invite"), IsAdmin())
async def invite_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    invites: InviteService,
    bot: Bot,
) -> None:
    try:
        days, uses = parse_invite(command.args)
        invite = await invites.create(user.id, days, uses)
    except InvalidInput:
        await message.answer(t("invite-usage"))
        return
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={START_PREFIX}{invite.code}"
    length = t("invite-days-forever") if days == 0 else t("invite-days", days=str(days))
    await message.answer(
        t(
            "invite-created",
            link=link,
            length=length,
            uses=str(uses),
            expires=format_date(invite.expires_at),
        )
    )


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(START_PREFIX)))
async def start_with_invite(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    invites: InviteService,
    users: UserService,
) -> None:
    await users.mark_started(user.id)
    code = (command.args or "").removeprefix(START_PREFIX)
    try:
        redeemed = await invites.redeem(user.id, code)
    except (InviteUnknown, InviteExpired, InviteUsedUp) as error:
        await message.answer(t(error.key))
        return
    now = users.clock()
    note = t("invite-accepted") if redeemed.charged else t("invite-not-needed")
    text = f"{note}\n\n{welcome(redeemed.user, t, now)}"
    await message.answer(text, reply_markup=main_menu(t))
