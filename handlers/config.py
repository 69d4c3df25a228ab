"""/get_config and /regen: the user's config file and QR code, and new keys on request."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from db.models import User
from handlers.common import send_config
from keyboards.callbacks import MenuAction, MenuCD, RegenAction, RegenCD
from keyboards.menus import regen_confirm
from locales import Translator
from services.devices import DeviceService

router = Router(name=__name__)


@router.message(Command("get_config"))
async def get_config(
    message: Message, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    config = await devices.config_for(user.id)
    await send_config(bot, user.id, config, t)


@router.callback_query(MenuCD.filter(F.action == MenuAction.CONFIG))
async def get_config_button(
    query: CallbackQuery, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    await query.answer(t("config-preparing"))
    config = await devices.config_for(user.id)
    await send_config(bot, user.id, config, t)


@router.message(Command("regen"))
async def regen(message: Message, t: Translator) -> None:
    await message.answer(t("regen-confirm"), reply_markup=regen_confirm(t))


@router.callback_query(RegenCD.filter(F.action == RegenAction.CONFIRM))
async def regen_confirmed(
    query: CallbackQuery, user: User, t: Translator, devices: DeviceService, bot: Bot
) -> None:
    await query.answer(t("config-preparing"))
    if query.message:
        await bot.edit_message_reply_markup(
            chat_id=user.id, message_id=query.message.message_id, reply_markup=None
        )
    config = await devices.regenerate(user.id)
    await bot.send_message(user.id, t("regen-done"))
    await send_config(bot, user.id, config, t)


@router.callback_query(RegenCD.filter(F.action == RegenAction.CANCEL))
async def regen_cancelled(query: CallbackQuery, user: User, t: Translator, bot: Bot) -> None:
    await query.answer()
    if query.message:
        await bot.edit_message_text(
            t("regen-cancelled"), chat_id=user.id, message_id=query.message.message_id
        )
