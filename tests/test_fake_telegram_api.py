"""The loopback Bot API answers the real aiogram Bot the way Telegram does."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import GetUpdates
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
)
from PIL import Image

from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    telegram = FakeTelegram()
    await telegram.start()
    yield telegram
    await telegram.close()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(fake.token, session=session)
    yield bot
    await bot.session.close()


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_get_me(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (fake.bot_id, True, fake.bot_username)
    assert fake.calls[-1].method == "getMe"


async def test_send_message_with_inline_keyboard(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1001, first_name="Ann")
    markup = keyboard(
        InlineKeyboardButton(text="Мои устройства", callback_data="dev:list"),
        InlineKeyboardButton(text="Help", url="https://example.org/help"),
    )
    message = await bot.send_message(user.id, "Привет", reply_markup=markup)

    assert message.chat.id == user.id
    assert message.chat.first_name == "Ann"
    assert message.from_user is not None
    assert message.from_user.is_bot
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == markup.model_dump()
    call = fake.calls[-1]
    assert call.method == "sendMessage"
    assert call.params["chat_id"] == user.id
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "dev:list"
    [sent] = fake.sent_to(user.id)
    assert (sent.message_id, sent.text) == (message.message_id, "Привет")
    assert sent.button("устройства")["callback_data"] == "dev:list"
    second = await bot.send_message(user.id, "again")
    assert second.message_id == message.message_id + 1


async def test_document_and_photo_round_trip(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1002)
    config = b"[Interface]\nPrivateKey = abc=\n\x00\xff binary tail"
    doc = await bot.send_document(
        user.id, BufferedInputFile(config, filename="wg-phone.conf"), caption="Ваш конфиг"
    )
    image = png()
    photo = await bot.send_photo(user.id, BufferedInputFile(image, filename="qr.png"))

    assert doc.document is not None
    assert doc.document.file_name == "wg-phone.conf"
    assert doc.document.file_size == len(config)
    assert doc.caption == "Ваш конфиг"
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
    sent_doc, sent_photo = fake.sent_to(user.id)
    assert sent_doc.document is not None
    assert sent_doc.document.content == config
    assert sent_doc.document.filename == "wg-phone.conf"
    assert sent_doc.text == "Ваш конфиг"
    assert sent_photo.photo is not None
    assert sent_photo.photo.content == image
    assert fake.calls[-1].files["photo"].content == image
    # The file URL serves what was uploaded.
    downloaded = await bot.download(doc.document.file_id)
    assert downloaded is not None
    assert downloaded.read() == config
    # Re-sending by file_id works; garbage instead of an image does not.
    again = await bot.send_document(user.id, doc.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == doc.document.file_unique_id
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user.id, BufferedInputFile(b"not a png", filename="x.png"))


async def test_edit_message_text(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1003)
    markup = keyboard(InlineKeyboardButton(text="Go", callback_data="go"))
    message = await bot.send_message(user.id, "one", reply_markup=markup)
    fake.mark(user.id)

    edited = await bot.edit_message_text(
        "two", chat_id=user.id, message_id=message.message_id, reply_markup=markup
    )
    assert isinstance(edited, Message)
    assert edited.text == "two"
    [sent] = await fake.wait_sent(user.id)
    assert (sent.text, sent.edits, sent.method) == ("two", 1, "editMessageText")
    assert fake.sent_to(user.id) == [sent]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "two", chat_id=user.id, message_id=message.message_id, reply_markup=markup
        )
    # Like Telegram, an edit without reply_markup drops the keyboard.
    await bot.edit_message_text("two", chat_id=user.id, message_id=message.message_id)
    assert sent.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=999)
    await bot.delete_message(user.id, message.message_id)
    assert sent.deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, message.message_id)


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1004)
    ok = "я" * 32  # 64 bytes in UTF-8
    await bot.send_message(
        user.id, "ok", reply_markup=keyboard(InlineKeyboardButton(text="a", callback_data=ok))
    )
    for data in ("x" * 65, "я" * 33, ""):
        bad = keyboard(InlineKeyboardButton(text="a", callback_data=data))
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(user.id, "too long", reply_markup=bad)
    assert len(fake.sent_to(user.id)) == 1


async def test_blocked_user_and_unknown_chat(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1005)
    fake.blocked.add(user.id)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "hi")
    assert fake.calls[-1].status == 403
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "nobody")


async def test_html_parse_mode(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1006)
    message = await bot.send_message(
        user.id, "<b>Bold <i>both</i></b> &lt;tag&gt;", parse_mode="HTML"
    )
    assert message.text == "Bold both <tag>"
    assert message.entities is not None
    assert {e.type for e in message.entities} == {"bold", "italic"}
    # 4096 visible characters pass however many tags wrap them.
    await bot.send_message(user.id, f"<b>{'a' * 4096}</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "a" * 4097)
    for broken in ("<b>open <i>cross</b></i>", "<b>never closed", "a < b", "<blink>x</blink>"):
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(user.id, broken, parse_mode="HTML")


async def test_wrong_token_and_unknown_method(bot: Bot, fake: FakeTelegram) -> None:
    stranger = Bot(
        "999:WRONG", session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    )
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()
    await stranger.session.close()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.base_url}/bot{fake.token}/sendTelepathy") as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_commands(bot: Bot, fake: FakeTelegram) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Start")], language_code="en"
    )
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    assert fake.my_commands()[0]["description"] == "Начать"
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start-Now", description="x")])


async def test_long_poll_returns_when_an_update_arrives(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1007)
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, fake.send_text, user, "/start@vpnservice_test_bot ref42")
    started = time.monotonic()
    [update] = await bot(GetUpdates(timeout=5))
    assert time.monotonic() - started < 2
    assert update.message is not None
    assert update.message.entities is not None
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start@vpnservice_test_bot")
    # Confirming with offset empties the queue; a short poll returns at once.
    assert await bot(GetUpdates(offset=update.update_id + 1, timeout=0)) == []


async def test_polling_end_to_end(bot: Bot, fake: FakeTelegram) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        markup = keyboard(InlineKeyboardButton(text="Получить конфиг", callback_data="cfg"))
        await message.answer("Добро пожаловать", reply_markup=markup)

    @router.callback_query(F.data == "cfg")
    async def config(query: CallbackQuery) -> None:
        await query.answer("Готово")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Конфиг отправлен")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=5)
    )
    user = fake.user(1008, first_name="Bob")
    fake.send_text(user, "/start")
    [welcome] = await fake.wait_sent(user.id)
    assert welcome.text == "Добро пожаловать"

    fake.press_button(user, welcome, "конфиг")
    answer = await fake.wait_for(lambda c: c.method == "answerCallbackQuery")
    assert answer.params["text"] == "Готово"
    [edited] = await fake.wait_sent(user.id)
    assert edited is welcome
    assert (edited.text, edited.reply_markup) == ("Конфиг отправлен", None)

    started = time.monotonic()
    await dp.stop_polling()
    await asyncio.wait_for(polling, 5)
    assert time.monotonic() - started < 3
    polls = [c for c in fake.calls if c.method == "getUpdates"]
    assert sorted(polls[0].params["allowed_updates"]) == ["callback_query", "message"]


async def test_stars_payment(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1009)
    invoice = await bot.send_invoice(
        user.id,
        title="30 дней",
        description="Доступ к VPN",
        payload="plan:30",
        currency="XTR",
        prices=[LabeledPrice(label="30 дней", amount=100)],
    )
    assert invoice.invoice is not None
    assert invoice.invoice.total_amount == 100
    query = fake.pre_checkout(user, "plan:30", 100)["pre_checkout_query"]
    assert await bot.answer_pre_checkout_query(query["id"], ok=True)
    with pytest.raises(TelegramBadRequest, match="QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query(query["id"], ok=True)
    paid = fake.successful_payment(user, "plan:30", 100)["message"]["successful_payment"]
    charge = paid["telegram_payment_charge_id"]
    assert await bot.refund_star_payment(user.id, charge)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(user.id, charge)
