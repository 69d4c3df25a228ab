"""/server: the nodes that take devices, with their load; picking one moves the user's devices.

A user on a plain WireGuard node also gets "My internet blocks the VPN" when an AmneziaWG or a
VLESS node is there: AmneziaWG first (one tap moves their devices and sends the new configs),
then VLESS with Reality (a link for v2rayNG, Hiddify, Streisand, Happ or the sing-box apps).
"Games" leads to the nodes ranked for a game (handlers/games.py)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from db.models import User
from handlers.common import acknowledge
from handlers.devices import send_configs
from keyboards.builder import InlineKeyboard
from keyboards.callbacks import (
    GameAction,
    GameCD,
    MenuAction,
    MenuCD,
    ServerCD,
    UnblockCD,
    VlessCD,
)
from keyboards.menus import servers
from locales import Translator
from locales.format import esc
from services.devices import DeviceService
from services.errors import NoNodes
from services.game_pings import GamePingService
from services.notifier import Notifier
from services.placement import Placement
from services.targets import is_amnezia
from services.vless import VlessService

router = Router(name=__name__)


def vless_offer(t: Translator) -> InlineKeyboardMarkup:
    """The button that gives the user their VLESS link."""
    button = InlineKeyboardButton(
        text=t("server-unblock-vless-button"), callback_data=VlessCD().pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def with_button(markup: InlineKeyboardMarkup, text: str, data: str) -> InlineKeyboardMarkup:
    """The server list with one more button under it."""
    builder = InlineKeyboard.from_markup(markup)
    builder.row(InlineKeyboardButton(text=text, callback_data=data))
    return builder.as_markup()


@router.message(Command("server"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.SERVER))
async def server_screen(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    placement: Placement,
    devices: DeviceService,
    vless: VlessService,
    game_pings: GamePingService,
    bot: Bot,
) -> None:
    await acknowledge(event)
    await devices.require_access(user.id)
    choices = await placement.choices()
    if not choices:
        raise NoNodes()
    current = await devices.current_node(user.id)
    text = t("server-choose")
    if current is not None:
        text = f"{t('server-current', node=esc(current.label))}\n{text}"
    markup = servers(t, choices, current.id if current else None)
    if game_pings.enabled:
        games = GameCD(action=GameAction.LIST).pack()
        markup = with_button(markup, t("game-choose-button"), games)
    unblockable = current is not None and not is_amnezia(current)
    if unblockable and (await placement.amnezia_choice() or await vless.available()):
        markup = with_button(markup, t("server-unblock-button"), UnblockCD().pack())
    await bot.send_message(user.id, text, reply_markup=markup)


@router.callback_query(ServerCD.filter())
async def server_chosen(
    query: CallbackQuery,
    callback_data: ServerCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    notifier: Notifier,
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
    await send_configs(notifier, user.id, configs, t)


@router.callback_query(UnblockCD.filter())
async def unblock(
    query: CallbackQuery,
    user: User,
    t: Translator,
    placement: Placement,
    devices: DeviceService,
    vless: VlessService,
    notifier: Notifier,
    bot: Bot,
) -> None:
    """One tap: the user's devices move to the least loaded AmneziaWG node; VLESS is offered
    next (or at once, when no AmneziaWG node is there or the user is on one already)."""
    await devices.require_access(user.id)
    offer = vless_offer(t) if await vless.available() else None
    current = await devices.current_node(user.id)
    if current is not None and is_amnezia(current):
        await query.answer()
        text = t("server-unblock-already", node=esc(current.label))
        if offer is not None:
            text = f"{text}\n\n{t('server-unblock-try-vless')}"
        await bot.send_message(user.id, text, reply_markup=offer)
        return
    target = await placement.amnezia_choice()
    if target is None:
        await query.answer()
        text = t("server-unblock-try-vless") if offer is not None else t("server-unblock-none")
        await bot.send_message(user.id, text, reply_markup=offer)
        return
    await query.answer(t("config-preparing"))
    configs = await devices.move(user.id, target.id)
    await bot.send_message(user.id, t("server-unblocked", node=esc(configs[0].config.node_name)))
    await send_configs(notifier, user.id, configs, t)
    if offer is not None:
        await bot.send_message(user.id, t("server-unblock-try-vless"), reply_markup=offer)
