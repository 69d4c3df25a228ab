"""Game buttons: the games to choose from, and the nodes ranked for one with their round trip."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import GameAction, GameCD, ServerCD
from locales import Translator


def game_list(t: Translator, games: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per game (key, name)."""
    builder = InlineKeyboard()
    for key, name in games:
        builder.button(
            text=t("game-button", game=name), callback_data=GameCD(action=GameAction.PICK, game=key)
        )
    builder.adjust(1)
    return builder.as_markup()


def game_servers(
    t: Translator,
    game: tuple[str, str],
    nodes: Sequence[tuple[int, str, str | None]],
    current_node_id: int | None,
) -> InlineKeyboardMarkup:
    """The nodes (id, label, round trip shown in ms, or None) in the order given, the current one
    marked; then the game's routes for every device, and back to the games."""
    key, name = game
    builder = InlineKeyboard()
    for node_id, label, rtt in nodes:
        if rtt is None:
            text = t("game-node-unknown", label=label)
        else:
            text = t("game-node", label=label, ms=rtt)
        if node_id == current_node_id:
            text = t("game-node-current", button=text)
        builder.button(text=text, callback_data=ServerCD(node_id=node_id))
    builder.button(
        text=t("game-routes-button", game=name),
        callback_data=GameCD(action=GameAction.ROUTES, game=key),
    )
    builder.button(text=t("game-back"), callback_data=GameCD(action=GameAction.LIST))
    builder.adjust(1)
    return builder.as_markup()
