"""/backup for admins: a fresh database backup sent into the chat as a file."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import FSInputFile, Message

from handlers.filters import IsAdmin
from locales import Translator
from locales.format import esc
from services.backups import BackupError, BackupService

router = Router(name=__name__)


@router.message(Command("backup"), IsAdmin())
async def backup_command(message: Message, t: Translator, backups: BackupService, bot: Bot) -> None:
    await bot.send_chat_action(message.chat.id, "upload_document")
    try:
        backup = await backups.create()
    except BackupError as error:
        await message.answer(t("backup-failed", reason=esc(error)))
        return
    size = f"{backup.size / 1024 / 1024:.1f}"
    name = esc(backup.path.name)
    if not backup.sendable:
        await message.answer(t("backup-too-big", name=name, size=size, path=esc(backup.path)))
        return
    await bot.send_document(
        message.chat.id,
        FSInputFile(backup.path, filename=backup.path.name),
        caption=t("backup-caption", name=name, size=size),
    )
