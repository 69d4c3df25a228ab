"""/broadcast: the message (a text, or a photo, video or document with a caption), up to 3
buttons, the audience, an exact preview with the count, then a paced send with progress and a
stop button."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from db.models import BroadcastAudience
from handlers.common import parse_number, replace
from handlers.filters import IsAdmin
from keyboards.broadcast import (
    READY_BUTTONS,
    broadcast_audiences,
    broadcast_back,
    broadcast_button_editor,
    broadcast_cancel,
    broadcast_confirm,
)
from keyboards.callbacks import BroadcastAction, BroadcastCD
from keyboards.menus import LANGUAGE_NAMES
from locales import LANGUAGES, Translator
from locales.format import esc
from services.broadcasts import (
    MAX_BUTTONS,
    MAX_EXPIRED_DAYS,
    Audience,
    BroadcastButton,
    BroadcastMessage,
    BroadcastService,
    ButtonKind,
    MediaKind,
    SendOutcome,
    check_buttons,
    check_text,
    parse_buttons,
)
from services.errors import InvalidInput, ServiceError

router = Router(name=__name__)

# Audiences chosen in one tap, with their count; then those that need a value first.
SIMPLE = (
    BroadcastAudience.ALL,
    BroadcastAudience.ACCESS,
    BroadcastAudience.NO_ACCESS,
    BroadcastAudience.TRIAL,
    BroadcastAudience.NEVER_CONNECTED,
)
GROUPS = (
    BroadcastAudience.EXPIRED,
    BroadcastAudience.NODE,
    BroadcastAudience.REGION,
    BroadcastAudience.LANGUAGE,
)
KINDS = frozenset(BroadcastAudience)
BUTTON_TARGETS = {
    ButtonKind.CONFIG: "broadcast-button-config",
    ButtonKind.RENEW: "broadcast-button-renew",
}


class BroadcastForm(StatesGroup):
    content = State()  # the text, or a photo, video or document with a caption
    buttons = State()  # up to MAX_BUTTONS buttons, then Next
    days = State()  # "expired in the last N days": N
    audience = State()  # the audience menu, then the preview and its confirmation


@router.callback_query(BroadcastCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.message(Command("broadcast"), IsAdmin())
async def broadcast_command(message: Message, state: FSMContext, t: Translator) -> None:
    await state.set_state(BroadcastForm.content)
    await state.set_data({})
    await message.answer(t("broadcast-ask-text"), reply_markup=broadcast_cancel(t))


# --- the message and its buttons ----------------------------------------------------------------


def content_of(message: Message) -> tuple[MediaKind | None, str, str] | None:
    """The media kind and file id (none for a text) and the plain text; None for other kinds."""
    if message.photo:
        return MediaKind.PHOTO, message.photo[-1].file_id, message.caption or ""
    if message.video:
        return MediaKind.VIDEO, message.video.file_id, message.caption or ""
    if message.document:
        return MediaKind.DOCUMENT, message.document.file_id, message.caption or ""
    if message.text is not None:
        return None, "", message.text
    return None


@router.message(BroadcastForm.content, IsAdmin())
async def broadcast_content(message: Message, state: FSMContext, t: Translator) -> None:
    content = content_of(message)
    if content is None:
        await message.answer(t("broadcast-text-only"), reply_markup=broadcast_cancel(t))
        return
    media, file_id, plain = content
    if media is None and plain.startswith("/"):
        await message.answer(t("broadcast-text-command"), reply_markup=broadcast_cancel(t))
        return
    text = message.html_text
    try:
        check_text(text, plain, media)
    except ServiceError as error:
        args = {name: str(value) for name, value in error.args_for_text.items()}
        await message.answer(t(error.key, **args), reply_markup=broadcast_cancel(t))
        return
    await state.update_data(
        text=text, plain=plain, media=media.value if media else None, file_id=file_id, buttons=[]
    )
    await state.set_state(BroadcastForm.buttons)
    await message.answer(
        buttons_text(t, []), reply_markup=broadcast_button_editor(t, 0, MAX_BUTTONS)
    )


def buttons_text(t: Translator, buttons: list[BroadcastButton]) -> str:
    lines = [t("broadcast-ask-buttons", most=str(MAX_BUTTONS))]
    if buttons:
        lines.append(t("broadcast-buttons-added", count=str(len(buttons)), most=str(MAX_BUTTONS)))
    for number, button in enumerate(buttons, 1):
        target = (
            esc(button.url) if button.kind is ButtonKind.URL else t(BUTTON_TARGETS[button.kind])
        )
        lines.append(
            t("broadcast-button-line", number=str(number), title=esc(button.title), target=target)
        )
    return "\n".join(lines)


def draft_buttons(data: dict[str, Any]) -> list[BroadcastButton]:
    return [BroadcastButton.from_dict(item) for item in data.get("buttons", [])]


@router.message(BroadcastForm.buttons, IsAdmin())
async def broadcast_buttons_typed(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    buttons = draft_buttons(data)
    if message.text is None or message.text.startswith("/"):
        await message.answer(
            t("broadcast-buttons-hint"),
            reply_markup=broadcast_button_editor(t, len(buttons), MAX_BUTTONS),
        )
        return
    try:
        buttons += parse_buttons(message.text)
        check_buttons(buttons)
    except ServiceError as error:
        args = {name: esc(str(value)) for name, value in error.args_for_text.items()}
        await message.answer(
            t(error.key, **args),
            reply_markup=broadcast_button_editor(t, len(draft_buttons(data)), MAX_BUTTONS),
        )
        return
    await state.update_data(buttons=[button.as_dict() for button in buttons])
    await message.answer(
        buttons_text(t, buttons), reply_markup=broadcast_button_editor(t, len(buttons), MAX_BUTTONS)
    )


@router.callback_query(
    BroadcastCD.filter(F.action.in_({BroadcastAction.BUTTON, BroadcastAction.CLEAR})), IsAdmin()
)
async def broadcast_ready_button(
    query: CallbackQuery, callback_data: BroadcastCD, state: FSMContext, t: Translator, bot: Bot
) -> None:
    if await state.get_state() != BroadcastForm.buttons.state:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    buttons = draft_buttons(await state.get_data())
    if callback_data.action is BroadcastAction.CLEAR:
        buttons = []
    elif callback_data.value in READY_BUTTONS and len(buttons) < MAX_BUTTONS:
        kind = ButtonKind(callback_data.value)
        buttons.append(BroadcastButton(t(READY_BUTTONS[kind]), kind))
    else:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await query.answer()
    await state.update_data(buttons=[button.as_dict() for button in buttons])
    markup = broadcast_button_editor(t, len(buttons), MAX_BUTTONS)
    await replace(bot, query, buttons_text(t, buttons), markup)


# --- the audience -------------------------------------------------------------------------------


DRAFT_STATES = frozenset(
    {BroadcastForm.buttons.state, BroadcastForm.days.state, BroadcastForm.audience.state}
)


@router.callback_query(BroadcastCD.filter(F.action == BroadcastAction.NEXT), IsAdmin())
async def broadcast_audience_menu(
    query: CallbackQuery,
    state: FSMContext,
    t: Translator,
    broadcasts: BroadcastService,
    bot: Bot,
) -> None:
    if await state.get_state() not in DRAFT_STATES:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await query.answer()
    await state.set_state(BroadcastForm.audience)
    choices = [
        (
            BroadcastAction.AUDIENCE,
            kind.value,
            "",
            t(
                "broadcast-audience",
                kind=kind.value,
                count=str(await broadcasts.count(Audience(kind))),
            ),
        )
        for kind in SIMPLE
    ]
    choices += [
        (BroadcastAction.GROUP, kind.value, "", t("broadcast-audience-group", kind=kind.value))
        for kind in GROUPS
    ]
    await replace(bot, query, t("broadcast-ask-audience"), broadcast_audiences(t, choices))


@router.callback_query(
    BroadcastCD.filter((F.action == BroadcastAction.GROUP) & F.audience.in_(KINDS)), IsAdmin()
)
async def broadcast_audience_group(
    query: CallbackQuery,
    callback_data: BroadcastCD,
    state: FSMContext,
    t: Translator,
    broadcasts: BroadcastService,
    bot: Bot,
) -> None:
    if await state.get_state() != BroadcastForm.audience.state:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    kind = BroadcastAudience(callback_data.audience)
    if kind is BroadcastAudience.EXPIRED:
        await query.answer()
        await state.set_state(BroadcastForm.days)
        await replace(
            bot, query, t("broadcast-ask-days", most=str(MAX_EXPIRED_DAYS)), broadcast_back(t)
        )
        return
    choices = await group_choices(kind, broadcasts)
    if not choices:
        await query.answer(t("broadcast-group-empty"), show_alert=True)
        return
    await query.answer()
    rows = [
        (
            BroadcastAction.AUDIENCE,
            kind.value,
            value,
            t("broadcast-choice", label=label, count=str(count)),
        )
        for value, label, count in choices
    ]
    rows.append((BroadcastAction.NEXT, BroadcastAudience.ALL.value, "", t("broadcast-back")))
    await replace(
        bot, query, t("broadcast-ask-group", kind=kind.value), broadcast_audiences(t, rows)
    )


async def group_choices(
    kind: BroadcastAudience, broadcasts: BroadcastService
) -> list[tuple[str, str, int]]:
    """(value, label, count) for each choice of an audience that needs a value; a region's
    value is its place in the list (a region's name may not fit in a button's data)."""
    if kind is BroadcastAudience.NODE:
        return [
            (
                str(node.node_id),
                f"{node.name} · {node.region}" if node.region else node.name,
                node.count,
            )
            for node in await broadcasts.counts_by_node()
        ]
    if kind is BroadcastAudience.REGION:
        regions = await broadcasts.counts_by_region()
        return [(str(place), region, count) for place, (region, count) in enumerate(regions)]
    counts = await broadcasts.counts_by_language()
    return [(code, LANGUAGE_NAMES[code], counts.get(code, 0)) for code in LANGUAGES]


async def resolve(
    kind: BroadcastAudience, value: str, broadcasts: BroadcastService
) -> tuple[Audience, str] | None:
    """The audience a button names and how it is called; None when the choice is gone."""
    if kind in SIMPLE:
        return (Audience(kind), "") if value == "" else None
    if kind is BroadcastAudience.EXPIRED:
        try:
            days = parse_number(value, 1, MAX_EXPIRED_DAYS)
        except InvalidInput:
            return None
        return Audience(kind, str(days)), str(days)
    for choice, label, _ in await group_choices(kind, broadcasts):
        if choice == value:
            stored = label if kind is BroadcastAudience.REGION else value
            return Audience(kind, stored), label
    return None


@router.message(BroadcastForm.days, IsAdmin())
async def broadcast_days(
    message: Message, state: FSMContext, t: Translator, broadcasts: BroadcastService, bot: Bot
) -> None:
    chosen = await resolve(BroadcastAudience.EXPIRED, (message.text or "").strip(), broadcasts)
    if chosen is None:
        await message.answer(
            t("broadcast-days-invalid", most=str(MAX_EXPIRED_DAYS)), reply_markup=broadcast_back(t)
        )
        return
    audience, label = chosen
    await offer(message.chat.id, None, state, t, broadcasts, bot, audience, label, audience.value)


@router.callback_query(
    BroadcastCD.filter((F.action == BroadcastAction.AUDIENCE) & F.audience.in_(KINDS)), IsAdmin()
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
    kind = BroadcastAudience(callback_data.audience)
    chosen = await resolve(kind, callback_data.value, broadcasts)
    if (
        await state.get_state() != BroadcastForm.audience.state
        or "text" not in data
        or chosen is None
    ):
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    audience, label = chosen
    await offer(
        query.from_user.id, query, state, t, broadcasts, bot, audience, label, callback_data.value
    )


def audience_name(t: Translator, audience: Audience, label: str) -> str:
    return t("broadcast-audience-name", kind=audience.kind.value, value=esc(label))


def draft_of(data: dict[str, Any]) -> BroadcastMessage:
    media = data.get("media")
    return BroadcastMessage(
        text=str(data["text"]),
        media=MediaKind(media) if media else None,
        file_id=str(data.get("file_id") or ""),
        buttons=tuple(draft_buttons(data)),
    )


async def offer(
    chat_id: int,
    query: CallbackQuery | None,
    state: FSMContext,
    t: Translator,
    broadcasts: BroadcastService,
    bot: Bot,
    audience: Audience,
    label: str,
    choice: str,
) -> None:
    """The count, then the message exactly as the recipients will get it, then Send (whose
    data names the `choice` made: a region by its place in the list)."""
    count = await broadcasts.count(audience)
    if count == 0:
        if query is not None:
            await query.answer(t("broadcast-nobody"), show_alert=True)
        else:
            await bot.send_message(chat_id, t("broadcast-nobody"), reply_markup=broadcast_back(t))
        return
    if query is not None:
        await query.answer()
    await state.update_data(
        audience=audience.kind.value, value=audience.value, label=label, choice=choice
    )
    await state.set_state(BroadcastForm.audience)
    name = audience_name(t, audience, label)
    chosen = t("broadcast-audience-chosen", audience=name)
    if query is not None:
        await replace(bot, query, chosen)
    else:
        await bot.send_message(chat_id, chosen)
    preview = await broadcasts.preview(chat_id, draft_of(await state.get_data()))
    if preview.outcome is not SendOutcome.SENT:
        await state.set_state(BroadcastForm.content)
        await state.set_data({})
        invalid = t("broadcast-text-invalid", error=esc(preview.error))
        await bot.send_message(chat_id, invalid, reply_markup=broadcast_cancel(t))
        return
    await bot.send_message(
        chat_id,
        t("broadcast-confirm", count=str(count), audience=name),
        reply_markup=broadcast_confirm(t, audience.kind.value, choice),
    )


# --- send, cancel, stop -------------------------------------------------------------------------


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
        or data.get("choice", "") != callback_data.value
        or "text" not in data
    ):
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await state.clear()
    await query.answer()
    audience = Audience(BroadcastAudience(data["audience"]), str(data.get("value", "")))
    broadcast = await broadcasts.create(
        query.from_user.id, draft_of(data), str(data["plain"]), audience
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
    if await state.get_state() not in {BroadcastForm.content.state, *DRAFT_STATES}:
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await replace(bot, query, t("broadcast-cancelled"))


@router.callback_query(BroadcastCD.filter(F.action == BroadcastAction.STOP), IsAdmin())
async def broadcast_stop_button(
    query: CallbackQuery, callback_data: BroadcastCD, t: Translator, broadcasts: BroadcastService
) -> None:
    if not await broadcasts.cancel(query.from_user.id, callback_data.broadcast_id):
        await query.answer(t("broadcast-stale"), show_alert=True)
        return
    await query.answer(t("broadcast-stopping"))
