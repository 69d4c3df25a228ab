"""Admin commands: /add_user and the grant button, /nodes; refusals for every staff command."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from db.models import User
from handlers.common import display_name, parse_number, parse_user_id, parsed, replace
from handlers.filters import ADMIN_COMMANDS, IsAdmin, RoleRefuses
from keyboards.callbacks import GrantCD
from locales import Translator
from locales.format import esc, format_date
from services.audit import AuditAction
from services.console import ConsoleService
from services.errors import InvalidInput
from services.fleet import FleetService
from services.users import MAX_GRANT_DAYS

router = Router(name=__name__)


@router.message(Command(*ADMIN_COMMANDS), RoleRefuses())
async def refuse_command(message: Message, t: Translator) -> None:
    await message.answer(t("admin-only"))


@router.callback_query(GrantCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


def parse_add_user(args: str) -> tuple[int, int | None]:
    """`ID [days]` into numbers; InvalidInput for anything else."""
    parts = args.split()
    if not 1 <= len(parts) <= 2:
        raise InvalidInput()
    user_id = parse_user_id(parts[0])
    days = parse_number(parts[1], 1, MAX_GRANT_DAYS) if len(parts) == 2 else None
    return user_id, days


@router.message(Command("add_user"), IsAdmin())
async def add_user(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    console: ConsoleService,
    bot: Bot,
) -> None:
    user_id, days = parsed(parse_add_user, command.args, "add-user-usage")
    text = await grant(user.id, user_id, days, t, console, AuditAction.ADD_USER)
    await message.answer(text)


@router.callback_query(GrantCD.filter(), IsAdmin())
async def grant_button(
    query: CallbackQuery,
    callback_data: GrantCD,
    user: User,
    t: Translator,
    console: ConsoleService,
    bot: Bot,
) -> None:
    days = callback_data.days or None
    if days is not None and not 0 < days <= MAX_GRANT_DAYS:
        raise InvalidInput()
    await query.answer()
    await replace(bot, query, await grant(user.id, callback_data.user_id, days, t, console))


async def grant(
    actor_id: int,
    user_id: int,
    days: int | None,
    t: Translator,
    console: ConsoleService,
    action: AuditAction = AuditAction.GRANT,
) -> str:
    """Grant or extend access (audited, peers back on the nodes, the user told when they can
    be), and return the admin's confirmation."""
    applied = await console.grant(actor_id, user_id, days, action)
    granted = applied.user
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
    elif applied.told:
        lines.append(t("admin-granted-notified"))
    lines.extend(unreachable_lines(t, applied.unreachable))
    return "\n".join(lines)


def unreachable_lines(t: Translator, nodes: Sequence[str]) -> list[str]:
    """A change the database holds but a node has not taken yet (reconcile will)."""
    return [t("console-node-pending", node=esc(node)) for node in nodes]


@router.message(Command("nodes"), IsAdmin())
async def nodes_command(message: Message, t: Translator, fleet: FleetService) -> None:
    health = await fleet.health()
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
        if item.foreign:
            lines[-1] += "\n" + t("nodes-foreign", count=str(item.foreign), node=esc(node.name))
    await message.answer("\n\n".join(lines))
