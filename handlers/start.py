"""/start (with a referral, a campaign and a promo code in its link), the main menu, /help and
the language switch."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from db.models import User
from handlers.commands import set_admin_commands, set_page_menu
from handlers.common import acknowledge, display_name
from handlers.promos import redeem
from keyboards.callbacks import LanguageCD, MenuAction, MenuCD
from keyboards.menus import languages, main_menu, with_page
from keyboards.subscribe import offer
from keyboards.support import support_button
from locales import DEFAULT_LANGUAGE, LANGUAGES, Translator, translator_for
from locales.format import format_date
from services.campaigns import CampaignService
from services.deeplinks import parse_start
from services.pages import PageService
from services.payments import PaymentService
from services.promos import PromoService
from services.subscriptions import SubscriptionService
from services.users import UserService

router = Router(name=__name__)


@router.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    user: User,
    is_admin: bool,
    t: Translator,
    users: UserService,
    subscriptions: SubscriptionService,
    payments: PaymentService,
    pages: PageService,
    campaigns: CampaignService,
    promos: PromoService,
    bot: Bot,
) -> None:
    first_time = not user.started
    await users.mark_started(user.id)
    if is_admin:
        await set_admin_commands(bot, user.id, user.language)
    page = pages.app_url
    if page is not None and user.language != DEFAULT_LANGUAGE:
        await set_page_menu(bot, page, t, user.id)
    link = parse_start(command.args)
    if first_time and link.campaign is not None:
        await campaigns.register(user.id, link.campaign)
    if first_time and link.referral is not None:
        await subscriptions.register_referral(user.id, link.referral)
    await greet(message, user, t, users, subscriptions, payments, page)
    if link.promo is not None:
        await redeem(bot, user, t, link.promo, promos, payments, subscriptions)


async def greet(
    message: Message,
    user: User,
    t: Translator,
    users: UserService,
    subscriptions: SubscriptionService,
    payments: PaymentService,
    page: str | None,
) -> None:
    """The menu for a user with access; for one without, what they can do and (at most every
    12 hours) a request to the admins."""
    now = users.clock()
    if user.has_access(now):
        await message.answer(welcome(user, t, now), reply_markup=with_page(t, main_menu(t), page))
        return
    subscription = await subscriptions.subscription(user.id)
    choices = with_page(
        t, offer(t, trial=subscription.trial_available, payments=payments.enabled), page
    )
    if await users.request_access(user.id):
        await message.answer(t("start-no-access", name=display_name(user)), reply_markup=choices)
    else:
        await message.answer(t("start-no-access-again"), reply_markup=choices)


def welcome(user: User, t: Translator, now: datetime) -> str:
    if user.access_until is None:
        until = t("start-access-forever")
    else:
        until = t("start-access-until", until=format_date(user.access_until))
    if not user.has_access(now):
        until = ""
    return f"{t('start-welcome', name=display_name(user))}\n{until}".strip()


@router.message(Command("help"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.HELP))
async def help_screen(event: Message | CallbackQuery, user: User, t: Translator, bot: Bot) -> None:
    await acknowledge(event)
    await bot.send_message(user.id, t("help-text"), reply_markup=support_button(t))


@router.message(Command("language"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.LANGUAGE))
async def language_screen(
    event: Message | CallbackQuery, user: User, t: Translator, bot: Bot
) -> None:
    await acknowledge(event)
    await bot.send_message(user.id, t("language-choose"), reply_markup=languages())


@router.callback_query(LanguageCD.filter(F.language.in_(LANGUAGES)))
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCD,
    user: User,
    users: UserService,
    pages: PageService,
    bot: Bot,
) -> None:
    await users.set_language(user.id, callback_data.language)
    t = translator_for(callback_data.language)
    if pages.app_url is not None:
        await set_page_menu(bot, pages.app_url, t, user.id)
    await query.answer(t("language-set"))
    if query.message:
        await query.message.answer(t("menu-title"), reply_markup=main_menu(t))
