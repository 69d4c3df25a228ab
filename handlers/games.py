"""Games in /server: pick a game, see the nodes ranked by their round trip to its servers,
and send only its traffic through the tunnel on every device in one tap."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from db.models import User
from handlers.common import replace
from handlers.devices import send_configs
from keyboards.callbacks import GameAction, GameCD
from keyboards.games import game_list, game_servers
from locales import Translator
from locales.format import esc, format_ms
from services.devices import DeviceService
from services.errors import NoNodes
from services.game_pings import GamePingService
from services.notifier import Notifier

router = Router(name=__name__)


@router.callback_query(GameCD.filter(F.action == GameAction.LIST))
async def games(
    query: CallbackQuery,
    user: User,
    t: Translator,
    devices: DeviceService,
    game_pings: GamePingService,
    bot: Bot,
) -> None:
    await devices.require_access(user.id)
    await query.answer()
    choices = [(game.key, game.name) for game in game_pings.games()]
    await replace(bot, query, t("game-choose"), game_list(t, choices))


@router.callback_query(GameCD.filter(F.action == GameAction.PICK))
async def game_chosen(
    query: CallbackQuery,
    callback_data: GameCD,
    user: User,
    t: Translator,
    devices: DeviceService,
    game_pings: GamePingService,
    bot: Bot,
) -> None:
    await devices.require_access(user.id)
    game = game_pings.game(callback_data.game)
    ranked = await game_pings.ranked(game.key)
    if not ranked:
        raise NoNodes()
    current = await devices.current_node(user.id)
    await query.answer()
    nodes = [
        (item.choice.id, item.choice.label, None if item.rtt_ms is None else format_ms(item.rtt_ms))
        for item in ranked
    ]
    markup = game_servers(t, (game.key, game.name), nodes, current.id if current else None)
    await replace(bot, query, t("game-servers", game=esc(game.name)), markup)


@router.callback_query(GameCD.filter(F.action == GameAction.ROUTES))
async def game_routes(
    query: CallbackQuery,
    callback_data: GameCD,
    user: User,
    t: Translator,
    game_pings: GamePingService,
    notifier: Notifier,
    bot: Bot,
) -> None:
    configs = await game_pings.use_routes(user.id, callback_data.game)
    game = game_pings.game(callback_data.game)
    await query.answer(t("config-preparing"))
    await bot.send_message(user.id, t("game-routes-done", game=esc(game.name)))
    await send_configs(notifier, user.id, configs, t)
