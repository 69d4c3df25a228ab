"""/support: the user's messages (text, photo, document) go to the staff until /done, and the
staff's replies come here as the bot's messages."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message

from db.models import User
from handlers.common import acknowledge
from keyboards.callbacks import MenuAction, MenuCD, SupportAction, SupportCD
from keyboards.support import support_done
from locales import Translator
from services.support import Outcome, SupportService

router = Router(name=__name__)

RELAYED = (F.text & ~F.text.startswith("/")) | F.photo | F.document


class InSupport(Filter):
    """A message in the user's own chat while their conversation with support is open."""

    async def __call__(self, message: Message, support: SupportService) -> bool:
        if message.chat.type != "private" or message.from_user is None:
            return False
        return await support.is_open(message.from_user.id)


@router.message(Command("support"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.SUPPORT))
async def support_command(
    event: Message | CallbackQuery, user: User, t: Translator, support: SupportService, bot: Bot
) -> None:
    await acknowledge(event)
    if not await support.open(user.id):
        await bot.send_message(user.id, t("support-unavailable"))
        return
    await bot.send_message(user.id, t("support-prompt"), reply_markup=support_done(t))


@router.message(Command("done"))
@router.callback_query(SupportCD.filter(F.action == SupportAction.DONE))
async def done_command(
    event: Message | CallbackQuery, user: User, t: Translator, support: SupportService, bot: Bot
) -> None:
    await acknowledge(event)
    closed = await support.close_by_user(user.id)
    await bot.send_message(user.id, t("support-closed" if closed else "support-not-open"))


@router.message(InSupport(), RELAYED)
async def to_support(message: Message, user: User, t: Translator, support: SupportService) -> None:
    relayed = await support.from_user(user.id, message.message_id)
    if relayed.outcome is Outcome.QUEUED:
        await message.answer(t("support-queued"))
    elif relayed.outcome is Outcome.FAILED:
        await message.answer(t("support-failed"))
    elif relayed.first:
        await message.answer(t("support-sent"))


@router.message(InSupport(), ~F.text)
async def other_kinds(message: Message, t: Translator) -> None:
    await message.answer(t("support-kinds"))
