"""/campaign [NAME]: an advertising link (start=c_NAME) for admins; its numbers are in /stats."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from db.models import User
from handlers.common import parsed
from handlers.filters import IsAdmin
from locales import Translator
from locales.format import esc
from services.campaigns import NAME_SHAPE, CampaignService
from services.deeplinks import CAMPAIGN, REFERRAL, SEPARATOR
from services.errors import InvalidInput

router = Router(name=__name__)


def parse_name(text: str) -> str:
    """At most one word: the campaign's name, lower-case ("" lists them all)."""
    words = text.lower().split()
    if len(words) > 1 or (words and not NAME_SHAPE.fullmatch(words[0])):
        raise InvalidInput()
    return words[0] if words else ""


@router.message(Command("campaign"), IsAdmin())
async def campaign(
    message: Message,
    command: CommandObject,
    user: User,
    t: Translator,
    campaigns: CampaignService,
    bot: Bot,
) -> None:
    name = parsed(parse_name, command.args, "campaign-usage")
    me = await bot.me()
    base = f"https://t.me/{me.username}?start={CAMPAIGN}"
    if not name:
        listed = await campaigns.all()
        lines = [t("campaigns-title")] + [f"{esc(c.name)}: {base}{esc(c.name)}" for c in listed]
        await message.answer("\n".join(lines) if listed else t("campaigns-empty"))
        return
    found, created = await campaigns.create(user.id, name)
    link = f"{base}{found.name}"
    await message.answer(
        t(
            "campaign-created" if created else "campaign-exists",
            name=esc(found.name),
            link=link,
            with_referral=f"{link}{SEPARATOR}{REFERRAL}",
        )
    )
