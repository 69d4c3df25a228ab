"""The set-up steps for one platform: its official apps as links and three short steps."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery

from db.models import User
from keyboards.callbacks import SetupCD
from keyboards.onboarding import app_links
from locales import Translator
from services.onboarding import OnboardingService

router = Router(name=__name__)


@router.callback_query(SetupCD.filter())
async def setup_steps(
    query: CallbackQuery,
    callback_data: SetupCD,
    user: User,
    t: Translator,
    onboarding: OnboardingService,
    bot: Bot,
) -> None:
    guide = await onboarding.guide(user.id, callback_data.platform)
    await query.answer()
    text = f"<b>{guide.platform.name}</b>\n{t(guide.steps_key)}"
    markup = app_links(t, guide.links)
    await bot.send_message(user.id, text, reply_markup=markup)
