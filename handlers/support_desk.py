"""The staff's side of support: what they write in a user's topic of the support forum, or
reply to a user's message in their own chat with the bot, goes to that user as the bot's."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import Message

from db.models import User
from locales import Translator
from services.support import Outcome, SupportService

router = Router(name=__name__)

# What a staff member's message may be to reach the user; commands stay with the bot.
CONTENT = (
    (F.text & ~F.text.startswith("/"))
    | F.photo
    | F.document
    | F.video
    | F.voice
    | F.audio
    | F.animation
    | F.sticker
    | F.video_note
)
NOT_DELIVERED = {
    Outcome.QUEUED: "support-reply-queued",
    Outcome.FAILED: "support-reply-failed",
}


class InSupportChat(Filter):
    """A message in the support forum (the middleware lets only the staff's through)."""

    async def __call__(self, message: Message, support: SupportService) -> bool:
        return support.chat_id is not None and message.chat.id == support.chat_id


class InUsersTopic(Filter):
    """In a topic of the support forum that belongs to a user: their id as `support_user`."""

    async def __call__(self, message: Message, support: SupportService) -> bool | dict[str, Any]:
        if not message.is_topic_message or message.message_thread_id is None:
            return False
        user_id = await support.user_of_topic(message.message_thread_id)
        return {"support_user": user_id} if user_id is not None else False


class RepliesToUser(Filter):
    """A staff member's reply, in their own chat with the bot, to a user's message relayed
    there: the user's id as `support_user`."""

    async def __call__(
        self, message: Message, support: SupportService, is_staff: bool
    ) -> bool | dict[str, Any]:
        replied = message.reply_to_message
        if not is_staff or replied is None or message.chat.type != "private":
            return False
        user_id = await support.user_of_copy(message.chat.id, replied.message_id)
        return {"support_user": user_id} if user_id is not None else False


@router.message(InSupportChat(), InUsersTopic(), Command("close"))
@router.message(RepliesToUser(), Command("close"))
async def close_conversation(
    message: Message, support_user: int, t: Translator, support: SupportService
) -> None:
    closed = await support.close_by_staff(support_user)
    await message.reply(t("support-staff-closed" if closed else "support-staff-not-open"))


@router.message(InSupportChat(), InUsersTopic(), CONTENT)
@router.message(RepliesToUser(), CONTENT)
async def staff_reply(
    message: Message, support_user: int, user: User, t: Translator, support: SupportService
) -> None:
    relayed = await support.from_staff(user.id, support_user, message.chat.id, message.message_id)
    if relayed.outcome in NOT_DELIVERED:
        await message.reply(t(NOT_DELIVERED[relayed.outcome]))


@router.message(InSupportChat(), InUsersTopic(), F.text.startswith("/"))
async def topic_command(message: Message, t: Translator) -> None:
    await message.reply(t("support-topic-commands"))


@router.message(InSupportChat())
async def elsewhere_in_the_forum(message: Message) -> None:
    """The General topic, topics of no user, service messages: for the staff, not the bot."""
