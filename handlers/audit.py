"""/audit: the admins' log of staff actions, newest first, in pages."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from handlers.common import parse_number, parsed, replace
from handlers.filters import IsAdmin
from keyboards.callbacks import AuditCD
from keyboards.console import audit_pages
from locales import Translator
from locales.format import esc, format_date
from services.audit import OPERATOR, AuditService

router = Router(name=__name__)

ENTRIES_PER_PAGE = 15
PAGES_MAX = 999_999


@router.callback_query(AuditCD.filter(), ~IsAdmin())
async def refuse_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("admin-only"), show_alert=True)


@router.message(Command("audit"), IsAdmin())
async def audit_command(
    message: Message, command: CommandObject, t: Translator, audit: AuditService
) -> None:
    page = parsed(lambda text: parse_number(text or "1", 1, PAGES_MAX), command.args, "audit-usage")
    text, markup = await audit_page(page - 1, t, audit)
    await message.answer(text, reply_markup=markup)


@router.callback_query(AuditCD.filter(F.page >= 0), IsAdmin())
async def audit_button(
    query: CallbackQuery, callback_data: AuditCD, t: Translator, audit: AuditService, bot: Bot
) -> None:
    await query.answer()
    text, markup = await audit_page(callback_data.page, t, audit)
    await replace(bot, query, text, markup)


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
        actor = str(entry.actor_id)
        if entry.actor_id == OPERATOR:
            actor = t("audit-actor-operator")
        lines.append(
            t(
                "audit-line",
                at=format_date(entry.at),
                actor=actor,
                action=t("audit-action", action=entry.action),
                target=esc(entry.target),
                details=esc(entry.details),
            )
        )
    has_next = (page + 1) * ENTRIES_PER_PAGE < total
    return "\n".join(lines), audit_pages(t, page, has_next)
