"""/vless: the user's VLESS links (text and QR code), the subscription link and set-up steps."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from db.models import User
from handlers.common import acknowledge
from keyboards.callbacks import VlessCD
from locales import Translator
from locales.format import esc
from services.pages import PageService
from services.qrdrawer import QrDrawer
from services.vless import VlessService

router = Router(name=__name__)


@router.message(Command("vless"))
@router.callback_query(VlessCD.filter())
async def vless_links(
    event: Message | CallbackQuery,
    user: User,
    t: Translator,
    vless: VlessService,
    pages: PageService,
    qr: QrDrawer,
    bot: Bot,
) -> None:
    """Every VLESS link of the user, each as text and QR code; one is made if they have none."""
    await acknowledge(event, t("config-preparing"))
    accesses = await vless.links_for(user.id)
    await bot.send_message(user.id, t("vless-intro"))
    for access in accesses:
        await bot.send_message(user.id, f"<code>{esc(access.link)}</code>")
        photo = BufferedInputFile(await qr.png(access.link), filename="vless.png")
        await bot.send_photo(user.id, photo, caption=t("vless-qr-caption"))
    if pages.enabled:
        link = await pages.subscription_link(user.id)
        await bot.send_message(user.id, t("vless-subscription", link=esc(link)))
    await bot.send_message(user.id, t("vless-apps"))
