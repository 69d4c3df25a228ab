"""/broadcast: the text, the group, a preview with the count, then a paced send with progress."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from db.models import BroadcastAudience
from handlers.common import replace
from handlers.filters import IsAdmin
from keyboards.broadcast import broadcast_audiences, broadcast_cancel, broadcast_confirm
from keyboards.callbacks import BroadcastAction, BroadcastCD
from locales import Translator
from services.broadcasts import BroadcastService, check_text
from services.errors import ServiceError

log = logging.getLogger(__name__)

router = Router(name=__name__)

AUDIENCE_BUTTONS = {
    BroadcastAudience.ALL: "broadcast-audience-all",
    BroadcastAudience.ACCESS: "broadcast-audience-access",
    BroadcastAudience.NO_ACCESS: "broadcast-audience-no-access",
}
AUDIENCES = frozenset(BroadcastAudience)
AUDIENCE_NAMES = {
    BroadcastAudience.ALL: "broadcast-audience-name-all",
    BroadcastAudience.ACCESS: "broadcast-audience-name-access",
    BroadcastAudience.NO_ACCESS: "broadcast-audience-name-no-access",
}


class BroadcastForm(StatesGroup):
    text = State()
    audience = State()


@router.callback_query(BroadcastCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.message(Command("broadcast"), IsAdmin())
async def broadcast_command(message: Message, state: FSMContext, t: Translator) -> None:
    await state.set_state(BroadcastForm.text)
    await state.set_data({})
    await message.answer(t("broadcast-ask-text"), reply_markup=broadcast_cancel(t))


@router.message(BroadcastForm.text, IsAdmin())
async def broadcast_text(
    message: Message, state: FSMContext, t: Translator, broadcasts: BroadcastService
) -> None:
    if message.text is None:
        await message.answer(t("broadcast-text-only"), reply_markup=broadcast_cancel(t))
        return
    if message.text.startswith("/"):
        await message.answer(t("broadcast-text-command"), reply_markup=broadcast_cancel(t))
        return
    text = message.html_text
    try:
        check_text(text, message.text)
    except ServiceError as error:
        args = {name: str(value) for name, value in error.args_for_text.items()}
        await message.answer(t(error.key, **args), reply_markup=broadcast_cancel(t))
        return
    choices = [
        (audience.value, t(key, count=str(await broadcasts.count(audience))))
        for audience, key in AUDIENCE_BUTTONS.items()
    ]
    await state.update_data(text=text, plain=message.text)
    await state.set_state(BroadcastForm.audience)
    await message.answer(t("broadcast-ask-audience"), reply_markup=broadcast_audiences(t, choices))


@router.callback_query(
    BroadcastCD.filter((F.action == BroadcastAction.AUDIENCE) & F.audience.in_(AUDIENCES)),
    IsAdmin(),
)
async def broadcast_audience(
    query: CallbackQuery,
    callback_data: BroadcastCD,
    state: FSMContext,
    t: Translator,
    broadcasts: BroadcastService,
    bot: Bot,
) -> None:
    data = await state.get_data()
    if await state.get_state() != BroadcastForm.audience.state or "text" not in data:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await query.answer()
    chat_id = query.from_user.id
    audience = BroadcastAudience(callback_data.audience)
    count = await broadcasts.count(audience)
    if count == 0:
        await bot.send_message(chat_id, t("broadcast-nobody"))
        return
    await state.update_data(audience=audience.value)
    name = t(AUDIENCE_NAMES[audience])
    await replace(bot, query, t("broadcast-audience-chosen", audience=name))
    try:
        await bot.send_message(chat_id, data["text"])  # the preview: exactly what they will get
    except TelegramBadRequest as error:
        log.info("broadcast preview refused: %s", error.message)
        await state.set_state(BroadcastForm.text)
        await bot.send_message(
            chat_id, t("broadcast-text-invalid"), reply_markup=broadcast_cancel(t)
        )
        return
    await bot.send_message(
        chat_id,
        t("broadcast-confirm", count=str(count), audience=name),
        reply_markup=broadcast_confirm(t, callback_data.audience),
    )


@router.callback_query(BroadcastCD.filter(F.action == BroadcastAction.SEND), IsAdmin())
async def broadcast_send(
    query: CallbackQuery,
    callback_data: BroadcastCD,
    state: FSMContext,
    t: Translator,
    broadcasts: BroadcastService,
    bot: Bot,
) -> None:
    # Read and clear the form before anything else awaits: a second tap finds it empty.
    current = await state.get_state()
    data = await state.get_data()
    if (
        current != BroadcastForm.audience.state
        or data.get("audience") != callback_data.audience
        or "text" not in data
    ):
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await state.clear()
    await query.answer()
    broadcast = await broadcasts.create(
        query.from_user.id, data["text"], data["plain"], BroadcastAudience(data["audience"])
    )
    if broadcast is None:
        await replace(bot, query, t("broadcast-nobody"))
        return
    await replace(
        bot, query, t("broadcast-started", id=str(broadcast.id), total=str(broadcast.total))
    )
    broadcasts.start(broadcast.id)


@router.callback_query(BroadcastCD.filter(F.action == BroadcastAction.CANCEL), IsAdmin())
async def broadcast_cancel_button(
    query: CallbackQuery, state: FSMContext, t: Translator, bot: Bot
) -> None:
    if await state.get_state() not in (BroadcastForm.text.state, BroadcastForm.audience.state):
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await replace(bot, query, t("broadcast-cancelled"))
