"""/audit: the admins' log of staff actions, newest first, in pages."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from handlers.common import esc, format_date
from handlers.filters import IsAdmin
from handlers.users_console import edit
from keyboards.admin import AuditCD, audit_pages
from locales import Translator
from services.audit import AuditService

router = Router(name=__name__)

ENTRIES_PER_PAGE = 15


@router.callback_query(AuditCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.message(Command("audit"), IsAdmin())
async def audit_command(
    message: Message, command: CommandObject, t: Translator, audit: AuditService
) -> None:
    arg = (command.args or "").strip()
    if arg and not (arg.isascii() and arg.isdigit() and len(arg) <= 6 and int(arg) >= 1):
        await message.answer(t("audit-usage"))
        return
    text, markup = await audit_page(int(arg or 1) - 1, t, audit)
    await message.answer(text, reply_markup=markup)


@router.callback_query(AuditCD.filter(F.page >= 0), IsAdmin())
async def audit_button(
    query: CallbackQuery, callback_data: AuditCD, t: Translator, audit: AuditService, bot: Bot
) -> None:
    await query.answer()
    text, markup = await audit_page(callback_data.page, t, audit)
    await edit(bot, query, text, markup)


async def audit_page(
    page: int, t: Translator, audit: AuditService
) -> tuple[str, InlineKeyboardMarkup | None]:
    total = await audit.count()
    if total == 0:
        return t("audit-empty"), None
    page = min(page, (total - 1) // ENTRIES_PER_PAGE)
    entries = await audit.page(page * ENTRIES_PER_PAGE, ENTRIES_PER_PAGE)
    lines = [
        t(
            "audit-header",
            page=str(page + 1),
            pages=str((total - 1) // ENTRIES_PER_PAGE + 1),
            total=str(total),
        )
    ]
    for entry in entries:
        lines.append(
            t(
                "audit-line",
                at=format_date(entry.at),
                actor=str(entry.actor_id),
                action=t("audit-action", action=entry.action),
                target=esc(entry.target),
                details=esc(entry.details),
            )
        )
    has_next = (page + 1) * ENTRIES_PER_PAGE < total
    return "\n".join(lines), audit_pages(t, page, has_next)
