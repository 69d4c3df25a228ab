"""The project's inline keyboard builder lays out exactly what aiogram's does."""

from __future__ import annotations

from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.builder import InlineKeyboard
from keyboards.callbacks import UsersCD
from keyboards.console import users_list
from locales import translator_for
from services.console import UserFilter


def lay_out(builder: InlineKeyboardBuilder) -> InlineKeyboardBuilder:
    for number in range(17):
        builder.button(text=f"{number}", callback_data=UsersCD(kind="all", page=number))
    builder.adjust(3, 3, 5)
    builder.row(*InlineKeyboardBuilder().button(text="next", url="https://example.org").buttons)
    return builder


def test_the_same_markup_as_aiograms_builder() -> None:
    ours, theirs = lay_out(InlineKeyboard()).as_markup(), lay_out(InlineKeyboardBuilder())
    assert ours == theirs.as_markup()
    assert [len(row) for row in ours.inline_keyboard] == [3, 3, 5, 5, 1, 1]


def test_an_exported_keyboard_is_the_callers_to_change() -> None:
    builder = lay_out(InlineKeyboard())
    exported = builder.export()
    exported[0].clear()
    exported.append([])
    assert [len(row) for row in builder.export()] == [3, 3, 5, 5, 1, 1]


def test_a_users_page_keyboard_holds_filters_cards_and_paging() -> None:
    t = translator_for("en")
    filters = list(UserFilter)
    markup = users_list(t, filters, UserFilter.PAID, 1, True, range(1, 11))
    texts = [button.text for row in markup.inline_keyboard for button in row]
    assert texts[: len(filters)] == [
        f"• {t('users-filter', filter=kind)}" if kind is UserFilter.PAID
        else t("users-filter", filter=kind)
        for kind in filters
    ]  # fmt: skip
    assert texts[len(filters) : -2] == [f"👤 {user_id}" for user_id in range(1, 11)]
    assert texts[-2:] == [t("button-previous"), t("button-next")]
