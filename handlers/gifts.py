"""Gift links: /start gift_<code> gives the first person who opens it the plan's days."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message

from db.models import User
from handlers.start import welcome
from keyboards.menus import main_menu
from locales import Translator
from services.deeplinks import GIFT
from services.gifts import GiftService
from services.users import UserService

router = Router(name=__name__)


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(GIFT)))
async def open_gift(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    gifts: GiftService,
    users: UserService,
) -> None:
    await users.mark_started(user.id)
    received = await gifts.redeem(user.id, (command.args or "").removeprefix(GIFT))
    greeting = welcome(received.user, t, users.clock())
    text = f"{t('gift-received', days=received.gift.days)}\n\n{greeting}"
    await message.answer(text, reply_markup=main_menu(t))
