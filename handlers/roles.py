"""/role: an admin makes someone an admin, support or a plain user again."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from db.models import Role, User
from handlers.commands import set_admin_commands
from handlers.common import display_name, parse_user_id, parsed
from handlers.filters import IsAdmin
from locales import Translator
from services.console import ConsoleService, RoleFromSettings
from services.errors import InvalidInput, UserNotFound

router = Router(name=__name__)


def parse_role(args: str) -> tuple[int, Role]:
    parts = args.split()
    if len(parts) != 2 or parts[1].lower() not in set(Role):
        raise InvalidInput()
    return parse_user_id(parts[0]), Role(parts[1].lower())


@router.message(Command("role"), IsAdmin())
async def role_command(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    console: ConsoleService,
    bot: Bot,
) -> None:
    target_id, role = parsed(parse_role, command.args, "role-usage")
    try:
        target, before = await console.set_role(user.id, target_id, role)
    except RoleFromSettings:
        await message.answer(t("role-from-settings", id=str(target_id)))
        return
    except UserNotFound:
        await message.answer(t("card-not-found", id=str(target_id)))
        return
    if role is Role.ADMIN:
        await set_admin_commands(bot, target.id, target.language)
    await message.answer(
        t(
            "role-set",
            name=display_name(target),
            id=str(target.id),
            before=before.value,
            role=role.value,
        )
    )
