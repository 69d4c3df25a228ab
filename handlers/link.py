"""/link: the personal page's link, and replacing it (the old one stops working at once)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from db.models import User
from handlers.common import replace
from keyboards.callbacks import LinkCD
from keyboards.menus import personal_link
from locales import Translator
from locales.format import esc
from services.pages import PageService

router = Router(name=__name__)


@router.message(Command("link"))
async def link(message: Message, user: User, t: Translator, pages: PageService) -> None:
    if not pages.enabled:
        await message.answer(t("link-off"))
        return
    url = await pages.personal_link(user.id)
    await message.answer(t("link-text", link=esc(url)), reply_markup=personal_link(t, url))


@router.callback_query(LinkCD.filter())
async def replace_link(
    query: CallbackQuery, user: User, t: Translator, pages: PageService, bot: Bot
) -> None:
    if not pages.enabled:
        await query.answer(t("link-off"), show_alert=True)
        return
    url = await pages.replace_link(user.id)
    await query.answer()
    await replace(bot, query, t("link-replaced", link=esc(url)), personal_link(t, url))
