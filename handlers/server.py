"""/server: the enabled nodes with their load; picking one moves the user's device there.

A user on a plain WireGuard node also gets "My internet blocks the VPN" when an AmneziaWG node
takes users: one tap moves their devices there and sends the new config."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from db.models import User
from handlers.common import esc
from handlers.devices import send_configs
from keyboards.callbacks import MenuAction, MenuCD, ServerCD, UnblockCD
from keyboards.menus import servers
from locales import Translator
from services.devices import DeviceService
from services.errors import NoNodes
from services.nodes import NodeService, is_amnezia

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
    markup = servers(t, choices, current_id)
    if current is not None and not is_amnezia(current) and await nodes.amnezia_choice():
        markup = with_unblock(t, markup)
    await bot.send_message(user.id, text, reply_markup=markup)


def with_unblock(t: Translator, markup: InlineKeyboardMarkup) -> InlineKeyboardMarkup:
    """The server list with "My internet blocks the VPN" under it."""
    builder = InlineKeyboardBuilder.from_markup(markup)
    builder.row(
        InlineKeyboardButton(text=t("server-unblock-button"), callback_data=UnblockCD().pack())
    )
    return builder.as_markup()


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
    configs = await devices.move(user.id, callback_data.node_id)
    moved = configs[0].config
    text = t("server-moved", node=esc(moved.node_name))
    if moved.obfuscation:
        text = f"{text}\n{t('server-amnezia-hint')}"
    await bot.send_message(user.id, text)
    await send_configs(bot, user.id, configs, t)


@router.callback_query(UnblockCD.filter())
async def unblock(
    query: CallbackQuery,
    user: User,
    t: Translator,
    nodes: NodeService,
    devices: DeviceService,
    bot: Bot,
) -> None:
    """One tap: the user's devices move to the least loaded AmneziaWG node."""
    await devices.require_access(user.id)
    current = await devices.current_node(user.id)
    if current is not None and is_amnezia(current):
        await query.answer()
        await bot.send_message(user.id, t("server-unblock-already", node=esc(current.label)))
        return
    target = await nodes.amnezia_choice()
    if target is None:
        await query.answer()
        await bot.send_message(user.id, t("server-unblock-none"))
        return
    await query.answer(t("config-preparing"))
    configs = await devices.move(user.id, target.id)
    await bot.send_message(user.id, t("server-unblocked", node=esc(configs[0].config.node_name)))
    await send_configs(bot, user.id, configs, t)
