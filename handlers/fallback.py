"""Whatever no other handler took: a hint for stray messages, a notice for stale buttons."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from locales import Translator

router = Router(name=__name__)


@router.message()
async def unknown_message(message: Message, t: Translator) -> None:
    await message.answer(t("unknown-message"))


@router.callback_query()
async def unknown_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("error-stale-button"), show_alert=True)
