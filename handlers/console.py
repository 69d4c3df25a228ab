"""The users console for admins and support: /users with filters, /find, the user card and its
confirmed actions, and a message to a user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from db.models import AccessKind, Role, User
from handlers.admin import grant, unreachable_lines
from handlers.common import display_name, parse_user_id, parsed, replace
from handlers.filters import IsAdmin, IsStaff
from keyboards.callbacks import (
    SUPPORT_ACTIONS,
    CardAction,
    CardCD,
    SendAction,
    SendCD,
    UsersCD,
)
from keyboards.console import card_confirm, found_users, send_confirm, user_card, users_list
from locales import Translator
from locales.format import esc, format_ago, format_amount, format_bytes, format_date
from services.audit import AuditAction
from services.console import (
    Applied,
    CardDevice,
    ConsoleService,
    SearchTooLong,
    UserCard,
    UserFilter,
    UserRow,
)
from services.devices import handshake_age, probe_age
from services.errors import InvalidInput, UserNotFound
from services.support import topic_link
from services.users import UserService

router = Router(name=__name__)

USERS_PER_PAGE = 10
MESSAGE_MAX = 3500
FILTERS = frozenset(UserFilter)
EXTEND_DAYS = {CardAction.EXTEND_30: 30, CardAction.EXTEND_90: 90}


class Console(StatesGroup):
    message = State()  # the next text of the staff member goes to the user in the state data


# --- refusals: checked on every callback, whatever ids it carries -----------------------------


@router.callback_query(UsersCD.filter(), ~IsStaff())
@router.callback_query(CardCD.filter(), ~IsStaff())
@router.callback_query(SendCD.filter(), ~IsStaff())
@router.callback_query(CardCD.filter(~F.action.in_(SUPPORT_ACTIONS)), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


# --- /users -----------------------------------------------------------------------------------


@router.message(Command("users"), IsStaff())
async def users_command(message: Message, t: Translator, console: ConsoleService) -> None:
    text, markup = await users_page(UserFilter.ALL, 0, t, console)
    await message.answer(text, reply_markup=markup)


@router.callback_query(UsersCD.filter((F.page >= 0) & F.kind.in_(FILTERS)), IsStaff())
async def users_button(
    query: CallbackQuery,
    callback_data: UsersCD,
    t: Translator,
    console: ConsoleService,
    bot: Bot,
) -> None:
    await query.answer()
    kind = UserFilter(callback_data.kind)
    text, markup = await users_page(kind, callback_data.page, t, console)
    await replace(bot, query, text, markup)


async def users_page(
    kind: UserFilter, page: int, t: Translator, console: ConsoleService
) -> tuple[str, InlineKeyboardMarkup]:
    total = await console.count(kind)
    if total == 0:
        empty = t("users-empty") if kind is UserFilter.ALL else t("users-empty-filter")
        return empty, users_list(t, list(UserFilter), kind, 0, False, [])
    page = min(page, (total - 1) // USERS_PER_PAGE)
    rows = await console.page(kind, page * USERS_PER_PAGE, USERS_PER_PAGE)
    now = console.now()
    bounds = {
        "from": str(page * USERS_PER_PAGE + 1),
        "to": str(page * USERS_PER_PAGE + len(rows)),
        "total": str(total),
    }
    if kind is UserFilter.ALL:
        lines = [t("users-header", **bounds)]
    else:
        lines = [t("users-header-filter", filter=kind.value, **bounds)]
    for row in rows:
        parts = [access_word(t, row.user, now), *devices_summary(t, row, now)]
        lines.append(
            t(
                "users-line",
                id=str(row.user.id),
                name=display_name(row.user),
                details=" · ".join(part for part in parts if part),
            )
        )
    lines += probed_line(t, [item for row in rows for item in row.devices], now)
    has_next = (page + 1) * USERS_PER_PAGE < total
    user_ids = [row.user.id for row in rows]
    return "\n".join(lines), users_list(t, list(UserFilter), kind, page, has_next, user_ids)


def devices_summary(t: Translator, row: UserRow, now: datetime) -> list[str]:
    """A user's devices in a few words: their nodes (and how many when more than one), the
    newest handshake among them ("?" when a node's latest probe failed), and their traffic
    summed, as the nodes' latest probes read them."""
    if not row.devices:
        return [t("users-no-node")]
    nodes = ", ".join(dict.fromkeys(esc(item.node.name) for item in row.devices))
    where = (
        nodes if len(row.devices) == 1 else t("users-devices", count=len(row.devices), nodes=nodes)
    )
    ages = [age for item in row.devices if (age := handshake_age(item.device, now)) is not None]
    received = sum(item.device.rx_total for item in row.devices)
    sent = sum(item.device.tx_total for item in row.devices)
    if ages:
        handshake = t("users-handshake-ago", ago=format_ago(t, min(ages)))
    elif any(not item.probe.answered for item in row.devices):
        handshake = t("users-handshake-unknown")
    else:
        handshake = t("users-handshake-never")
    traffic = (
        t("users-traffic", received=format_bytes(t, sent), sent=format_bytes(t, received))
        if received or sent
        else ""
    )
    return [where, handshake, traffic]


def probed_line(t: Translator, devices: Sequence[CardDevice], now: datetime) -> list[str]:
    """When the shown devices' nodes were read: the oldest of their latest probes."""
    ages = [age for item in devices if (age := probe_age(item.probe, now)) is not None]
    return [t("probed-ago", ago=format_ago(t, max(ages)))] if ages else []


# --- /find ------------------------------------------------------------------------------------


@router.message(Command("find"), IsStaff())
async def find_command(
    message: Message, command: CommandObject, t: Translator, console: ConsoleService
) -> None:
    try:
        found, more = await console.search(command.args or "")
    except InvalidInput:
        await message.answer(t("find-usage"))
        return
    except SearchTooLong as error:
        await message.answer(t(error.key, most=str(error.args_for_text["most"])))
        return
    if not found:
        await message.answer(t("find-nothing"))
        return
    now = console.now()
    lines = [t("find-header", count=str(len(found)))]
    for user in found:
        lines.append(
            t(
                "find-line",
                id=str(user.id),
                name=display_name(user),
                username=f"@{esc(user.username)}" if user.username else "",
                access=access_word(t, user, now),
            )
        )
    if more:
        lines.append(t("find-more"))
    await message.answer("\n".join(lines), reply_markup=found_users([u.id for u in found]))


def access_word(t: Translator, user: User, now: datetime) -> str:
    if user.banned:
        return t("users-access-banned")
    if not user.has_access(now):
        return t("users-access-none")
    if user.access_until is None:
        return t("users-access-forever")
    return t("users-access-until", until=format_date(user.access_until))


# --- the user card ----------------------------------------------------------------------------


@router.message(Command("user"), IsStaff())
async def user_command(
    message: Message,
    command: CommandObject,
    t: Translator,
    is_admin: bool,
    console: ConsoleService,
) -> None:
    user_id = parsed(parse_user_id, command.args, "card-usage")
    try:
        body, markup = await card_view(user_id, t, is_admin, console)
    except UserNotFound:
        await message.answer(t("card-not-found", id=str(user_id)))
        return
    await message.answer(body, reply_markup=markup)


def money_lines(card: UserCard, t: Translator) -> list[str]:
    """Access kind, plan and auto-renewal, who invited them, the latest payments."""
    user = card.user
    lines = [t("card-kind", kind=user.access_kind.value, plan=user.plan_code or "-")]
    if user.auto_renew and user.payment_method_enc:
        lines.append(t("card-auto-renew"))
    if user.trial_used_at is not None:
        lines.append(t("card-trial-used", at=format_date(user.trial_used_at)))
    if card.referrer is not None:
        lines.append(t("card-referrer", name=display_name(card.referrer), id=str(card.referrer.id)))
    for payment in card.payments:
        lines.append(
            t(
                "card-payment",
                date=format_date(payment.credited_at or payment.created_at),
                amount=format_amount(payment.amount, payment.currency),
                provider=payment.provider,
                status=payment.status.value,
                charge=esc(payment.provider_payment_id or "-"),
            )
        )
    return lines


def support_line(card: UserCard, t: Translator) -> list[str]:
    """Whether the user's conversation with support is open, and a link to their topic."""
    thread = card.support
    if thread is None:
        return []
    link = (
        topic_link(thread.chat_id, thread.topic_id)
        if thread.chat_id is not None and thread.topic_id is not None
        else None
    )
    last = format_date(thread.last_message_at) if thread.last_message_at else "-"
    line = t("card-support", open="yes" if thread.open else "no", last=last)
    return [f"{line} · {t('card-support-topic', url=esc(link))}" if link else line]


async def card_view(
    user_id: int, t: Translator, is_admin: bool, console: ConsoleService, note: str = ""
) -> tuple[str, InlineKeyboardMarkup]:
    card = await console.card(user_id)
    user, now = card.user, console.now()
    lines = [note] if note else []
    lines.append(
        t(
            "card-title",
            name=display_name(user),
            username=f"@{esc(user.username)}" if user.username else "",
            id=str(user.id),
        )
    )
    if card.role is not Role.USER:
        lines.append(t("card-role", role=card.role.value))
    if user.banned:
        lines.append(t("card-banned"))
    if user.has_access(now) and user.access_until is None:
        lines.append(t("card-access-forever"))
    elif user.has_access(now) and user.access_until is not None:
        lines.append(t("card-access-until", until=format_date(user.access_until)))
    elif user.access_until is not None and user.access_kind is not AccessKind.NONE:
        lines.append(t("card-access-ended", until=format_date(user.access_until)))
    else:
        lines.append(t("card-access-none"))
    if user.bot_blocked_at is not None:
        lines.append(t("card-bot-blocked", at=format_date(user.bot_blocked_at)))
    lines.extend(money_lines(card, t))
    lines.extend(support_line(card, t))
    if not card.devices:
        lines.append(t("card-no-devices"))
    for item in card.devices:
        device = item.device
        age = handshake_age(device, now)
        handshake = (
            t("users-handshake-never")
            if age is None
            else t("users-handshake-ago", ago=format_ago(t, age))
        )
        lines.append(
            t(
                "card-device",
                node=esc(item.node.name),
                address=esc(device.address4) if device.address4 else t("devices-no-address"),
                handshake=handshake,
                received=format_bytes(t, device.tx_total),
                sent=format_bytes(t, device.rx_total),
            )
        )
    lines += probed_line(t, card.devices, now)
    markup = user_card(
        t,
        user.id,
        admin=is_admin,
        has_access=user.has_access(now),
        banned=user.banned,
        has_devices=bool(card.devices),
    )
    return "\n".join(lines), markup


@router.callback_query(CardCD.filter(F.action.in_({CardAction.SHOW, CardAction.OPEN})), IsStaff())
async def card_button(
    query: CallbackQuery,
    callback_data: CardCD,
    t: Translator,
    is_admin: bool,
    console: ConsoleService,
    bot: Bot,
) -> None:
    await query.answer()
    text, markup = await card_view(callback_data.user_id, t, is_admin, console)
    if callback_data.action is CardAction.OPEN:  # under a relayed message, which stays
        await bot.send_message(query.from_user.id, text, reply_markup=markup)
    else:
        await replace(bot, query, text, markup)


@router.callback_query(CardCD.filter(F.action == CardAction.MESSAGE), IsStaff())
async def message_button(
    query: CallbackQuery,
    callback_data: CardCD,
    t: Translator,
    console: ConsoleService,
    state: FSMContext,
    bot: Bot,
) -> None:
    card = await console.card(callback_data.user_id)
    await query.answer()
    await state.set_state(Console.message)
    await state.set_data({"user_id": card.user.id})
    if query.message:
        await bot.send_message(
            query.message.chat.id,
            t("message-prompt", name=display_name(card.user), id=str(card.user.id)),
        )


@router.callback_query(CardCD.filter(~F.ok), IsStaff())
async def ask_confirmation(
    query: CallbackQuery, callback_data: CardCD, t: Translator, console: ConsoleService, bot: Bot
) -> None:
    card = await console.card(callback_data.user_id)
    await query.answer()
    text = t(
        "card-confirm",
        action=callback_data.action.value,
        name=display_name(card.user),
        id=str(card.user.id),
    )
    await replace(bot, query, text, card_confirm(t, callback_data.action, card.user.id))


@router.callback_query(CardCD.filter(F.ok), IsStaff())
async def apply_action(
    query: CallbackQuery,
    callback_data: CardCD,
    user: User,
    t: Translator,
    is_admin: bool,
    console: ConsoleService,
    bot: Bot,
) -> None:
    await query.answer()
    action, target = callback_data.action, callback_data.user_id
    if action in EXTEND_DAYS:
        note = await grant(user.id, target, EXTEND_DAYS[action], t, console, AuditAction.EXTEND)
    else:
        applied: Applied
        if action is CardAction.REVOKE:
            applied = await console.revoke(user.id, target)
        elif action is CardAction.BAN:
            applied = await console.ban(user.id, target)
        elif action is CardAction.UNBAN:
            applied = await console.unban(user.id, target)
        elif action is CardAction.RESET:
            applied = await console.reset_devices(user.id, target)
        else:
            raise InvalidInput()
        lines = [t("card-done", action=action.value)]
        note = "\n".join(lines + unreachable_lines(t, applied.unreachable))
    text, markup = await card_view(target, t, is_admin, console, note)
    await replace(bot, query, text, markup)


# --- a message to a user ----------------------------------------------------------------------


@router.message(Command("cancel"), Console.message)
async def cancel_message(message: Message, t: Translator, state: FSMContext) -> None:
    await state.clear()
    await message.answer(t("message-cancelled"))


@router.message(Console.message, F.text, ~F.text.startswith("/"), IsStaff())
async def message_text(
    message: Message, t: Translator, state: FSMContext, users: UserService
) -> None:
    text = message.text or ""
    if len(text) > MESSAGE_MAX:
        await message.answer(t("message-too-long", most=str(MESSAGE_MAX)))
        return
    target = await users.get(int((await state.get_data())["user_id"]))
    if target is None:
        await state.clear()
        await message.answer(t("message-cancelled"))
        return
    await state.update_data(text=text)
    preview = t("message-preview", name=display_name(target), id=str(target.id), text=esc(text))
    await message.answer(preview, reply_markup=send_confirm(t))


@router.callback_query(SendCD.filter(), IsStaff())
async def send_button(
    query: CallbackQuery,
    callback_data: SendCD,
    user: User,
    t: Translator,
    state: FSMContext,
    users: UserService,
    console: ConsoleService,
    bot: Bot,
) -> None:
    data = await state.get_data()
    await query.answer()
    if callback_data.action is SendAction.CANCEL or "text" not in data:
        await state.clear()
        await replace(bot, query, t("message-cancelled"), None)
        return
    target = await users.get(int(data["user_id"]))
    text = str(data["text"])
    await state.clear()
    if target is None:
        await replace(bot, query, t("message-cancelled"), None)
        return
    delivered = await console.message(user.id, target.id, text)
    result = "message-sent" if delivered else "message-not-delivered"
    await replace(bot, query, t(result, name=display_name(target), id=str(target.id)), None)
