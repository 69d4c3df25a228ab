"""Admin commands: /add_user and the grant button, /users in pages, /nodes; refused to others."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, or_f
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.i18n import Translator
from handlers.common import display_name, esc, format_ago, format_bytes, format_date, notify
from handlers.filters import ADMIN_COMMANDS, IsAdmin
from keyboards.callbacks import GrantCD, UsersPageCD
from keyboards.menus import users_pages
from services.devices import DeviceService, handshake_age
from services.errors import InvalidInput
from services.nodes import NodeService
from services.users import MAX_GRANT_DAYS, TELEGRAM_ID_MAX, UserService

router = Router(name=__name__)

USERS_PER_PAGE = 10


@router.message(Command(*ADMIN_COMMANDS), ~IsAdmin())
async def refuse_command(message: Message, t: Translator) -> None:
    await message.answer(t("admin-only"))


@router.callback_query(or_f(GrantCD.filter(), UsersPageCD.filter()), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


def parse_add_user(args: str | None) -> tuple[int, int | None]:
    """`ID [days]` into numbers; InvalidInput for anything else."""
    parts = (args or "").split()
    if not 1 <= len(parts) <= 2 or not all(part.isascii() and part.isdigit() for part in parts):
        raise InvalidInput()
    if any(len(part) > 16 for part in parts):
        raise InvalidInput()
    user_id = int(parts[0])
    days = int(parts[1]) if len(parts) == 2 else None
    if not 0 < user_id < TELEGRAM_ID_MAX or (days is not None and not 0 < days <= MAX_GRANT_DAYS):
        raise InvalidInput()
    return user_id, days


@router.message(Command("add_user"), IsAdmin())
async def add_user(
    message: Message, command: CommandObject, t: Translator, users: UserService, bot: Bot
) -> None:
    try:
        user_id, days = parse_add_user(command.args)
    except InvalidInput:
        await message.answer(t("add-user-usage"))
        return
    await message.answer(await grant(user_id, days, t, users, bot))


@router.callback_query(GrantCD.filter(), IsAdmin())
async def grant_button(
    query: CallbackQuery, callback_data: GrantCD, t: Translator, users: UserService, bot: Bot
) -> None:
    days = callback_data.days or None
    if days is not None and not 0 < days <= MAX_GRANT_DAYS:
        raise InvalidInput()
    await query.answer()
    text = await grant(callback_data.user_id, days, t, users, bot)
    if query.message:
        await bot.edit_message_text(
            text, chat_id=query.message.chat.id, message_id=query.message.message_id
        )


async def grant(user_id: int, days: int | None, t: Translator, users: UserService, bot: Bot) -> str:
    """Grant access, tell the user if they can be told, and return the admin's confirmation."""
    granted = await users.grant(user_id, days)
    until = format_date(granted.access_until) if granted.access_until else ""
    lines = [
        t(
            "admin-granted",
            name=display_name(granted),
            id=str(granted.id),
            until=t("admin-granted-until", until=until) if until else t("admin-granted-forever"),
        )
    ]
    if not granted.started:
        lines.append(t("admin-granted-not-started"))
    elif await notify(
        bot,
        [granted],
        "user-access-granted-until" if until else "user-access-granted-forever",
        until=until,
    ):
        lines.append(t("admin-granted-notified"))
    return "\n".join(lines)


@router.message(Command("users"), IsAdmin())
async def users_command(
    message: Message, t: Translator, users: UserService, devices: DeviceService
) -> None:
    text, markup = await users_page(0, t, users, devices)
    await message.answer(text, reply_markup=markup)


@router.callback_query(UsersPageCD.filter(F.page >= 0), IsAdmin())
async def users_page_button(
    query: CallbackQuery,
    callback_data: UsersPageCD,
    t: Translator,
    users: UserService,
    devices: DeviceService,
    bot: Bot,
) -> None:
    await query.answer()
    text, markup = await users_page(callback_data.page, t, users, devices)
    if query.message:
        await bot.edit_message_text(
            text,
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            reply_markup=markup,
        )


async def users_page(
    page: int, t: Translator, users: UserService, devices: DeviceService
) -> tuple[str, InlineKeyboardMarkup | None]:
    total = await users.count()
    if total == 0:
        return t("users-empty"), None
    page = min(page, (total - 1) // USERS_PER_PAGE)
    rows = await users.page(page * USERS_PER_PAGE, USERS_PER_PAGE)
    live, failed = await devices.live_peers(row.node for row in rows if row.node is not None)
    now = users.clock()
    lines = [
        t(
            "users-header",
            **{
                "from": str(page * USERS_PER_PAGE + 1),
                "to": str(page * USERS_PER_PAGE + len(rows)),
                "total": str(total),
            },
        )
    ]
    for row in rows:
        user = row.user
        if not user.has_access(now):
            access = t("users-access-none")
        elif user.access_until is None:
            access = t("users-access-forever")
        else:
            access = t("users-access-until", until=format_date(user.access_until))
        traffic = ""
        if row.node is None or row.device is None:
            node, handshake = t("users-no-node"), ""
        elif row.node.id in failed:
            node, handshake = esc(row.node.name), t("users-handshake-unknown")
        else:
            node = esc(row.node.name)
            peer = live.get(row.device.public_key)
            age = handshake_age(peer, now)
            handshake = (
                t("users-handshake-never")
                if age is None
                else t("users-handshake-ago", ago=format_ago(t, age))
            )
            node_received, node_sent = (
                row.device.traffic_with(peer.rx_bytes, peer.tx_bytes)
                if peer
                else (row.device.rx_total, row.device.tx_total)
            )
            if node_received or node_sent:
                traffic = t(
                    "users-traffic",
                    received=format_bytes(t, node_sent),
                    sent=format_bytes(t, node_received),
                )
        parts = [access, node, handshake, traffic]
        lines.append(
            t(
                "users-line",
                id=str(user.id),
                name=display_name(user),
                details=" · ".join(part for part in parts if part),
            )
        )
    has_next = (page + 1) * USERS_PER_PAGE < total
    return "\n".join(lines), users_pages(t, page, has_next)


@router.message(Command("nodes"), IsAdmin())
async def nodes_command(message: Message, t: Translator, nodes: NodeService) -> None:
    health = await nodes.health()
    if not health:
        await message.answer(t("nodes-empty"))
        return
    lines = []
    for item in health:
        node = item.node
        common = {
            "name": esc(node.name),
            "region": esc(node.region),
            "endpoint": esc(node.endpoint),
            "devices": str(item.devices),
        }
        if item.reachable and item.load is not None:
            lines.append(
                t(
                    "nodes-line-up",
                    peers=str(item.peers),
                    load=f"{item.load.load1:.2f}",
                    cpus=str(item.load.cpus),
                    **common,
                )
            )
        else:
            lines.append(t("nodes-line-down", reason=esc(item.error or "?"), **common))
    await message.answer("\n\n".join(lines))
