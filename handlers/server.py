"""/server: the enabled nodes with their load; picking one moves the user's device there."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.db.models import User
from bot.i18n import Translator
from handlers.common import esc, send_config
from keyboards.callbacks import MenuAction, MenuCD, ServerCD
from keyboards.menus import servers
from services.devices import DeviceService
from services.errors import NoNodes
from services.nodes import NodeService

router = Router(name=__name__)


async def server_screen(
    bot: Bot, user: User, t: Translator, nodes: NodeService, devices: DeviceService
) -> None:
    choices = await nodes.choices()
    if not choices:
        raise NoNodes()
    current = await devices.current_node(user.id)
    text = t("server-choose")
    if current is not None:
        text = f"{t('server-current', node=esc(current.label))}\n{text}"
    current_id = current.id if current else None
    await bot.send_message(user.id, text, reply_markup=servers(t, choices, current_id))


@router.message(Command("server"))
async def server_command(
    message: Message,
    user: User,
    t: Translator,
    nodes: NodeService,
    devices: DeviceService,
    bot: Bot,
) -> None:
    await devices.require_access(user.id)
    await server_screen(bot, user, t, nodes, devices)


@router.callback_query(MenuCD.filter(F.action == MenuAction.SERVER))
async def server_button(
    query: CallbackQuery,
    user: User,
    t: Translator,
    nodes: NodeService,
    devices: DeviceService,
    bot: Bot,
) -> None:
    await query.answer()
    await devices.require_access(user.id)
    await server_screen(bot, user, t, nodes, devices)


@router.callback_query(ServerCD.filter())
async def server_chosen(
    query: CallbackQuery,
    callback_data: ServerCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    bot: Bot,
) -> None:
    current = await devices.current_node(user.id)
    if current is not None and current.id == callback_data.node_id:
        await query.answer()
        await bot.send_message(user.id, t("server-same", node=esc(current.label)))
        return
    await query.answer(t("config-preparing"))
    config = await devices.move(user.id, callback_data.node_id)
    await bot.send_message(user.id, t("server-moved", node=esc(config.node_name)))
    await send_config(bot, user.id, config, t)
