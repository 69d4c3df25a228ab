"""The loopback Bot API answers the real aiogram Bot the way Telegram does."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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
    MenuButtonWebApp,
    Message,
    ReplyParameters,
    WebAppInfo,
)
from PIL import Image

from tests.fakes.telegram_api import MEMBER_STATUSES, TOPIC_ICON_COLORS, FakeTelegram


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
    config = b"[Interface]\r\nPrivateKey = abc=\n\x00\xff binary\r\n--tail\r\n\r\n"
    doc = await bot.send_document(
        user.id, BufferedInputFile(config, filename="Нидерланды.conf"), caption="Ваш конфиг"
    )
    image = png()
    photo = await bot.send_photo(user.id, BufferedInputFile(image, filename="qr.png"))

    assert doc.document is not None
    assert doc.document.file_name == "Нидерланды.conf"
    assert doc.document.file_size == len(config)
    assert doc.caption == "Ваш конфиг"
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (64, 48)
    sent_doc, sent_photo = fake.sent_to(user.id)
    assert sent_doc.document is not None
    assert sent_doc.document.content == config
    assert sent_doc.document.filename == "Нидерланды.conf"
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


async def test_invoice_link_for_a_stars_subscription(bot: Bot, fake: FakeTelegram) -> None:
    price = [LabeledPrice(label="Месяц", amount=250)]
    link = await bot.create_invoice_link(
        "VPN на месяц", "Продлевается сам", "sub:month", "XTR", price, subscription_period=2592000
    )
    assert link.startswith("https://t.me/$")
    invoice = fake.invoice_link(link)
    assert (invoice["payload"], invoice["total_amount"]) == ("sub:month", 250)
    assert invoice["subscription_period"] == 2592000
    one_off = await bot.create_invoice_link("Разово", "30 дней", "plan:30", "XTR", price)
    assert fake.invoice_link(one_off)["subscription_period"] is None

    refused: dict[str, list[dict[str, Any]]] = {
        "SUBSCRIPTION_PERIOD_INVALID": [
            {"subscription_period": 86400},
            {"subscription_period": 2592000, "currency": "RUB", "provider_token": "x"},
        ],
        "INVOICE_TITLE_INVALID": [{"title": "t" * 33}],
        "INVOICE_DESCRIPTION_INVALID": [{"description": "d" * 256}],
        "INVOICE_PAYLOAD_INVALID": [{"payload": "я" * 65}],  # 130 bytes
        "CURRENCY_TOTAL_AMOUNT_INVALID": [
            {"prices": price * 2},
            {"prices": [LabeledPrice(label="x", amount=10001)], "subscription_period": 2592000},
        ],
    }
    for error, cases in refused.items():
        for case in cases:
            args = {
                "title": "VPN",
                "description": "VPN",
                "payload": "p",
                "currency": "XTR",
                "prices": price,
                **case,
            }
            with pytest.raises(TelegramBadRequest, match=error):
                await bot.create_invoice_link(**args)
    assert len(fake.invoice_links) == 2


async def test_star_subscription_payments_cancel_and_refund(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1010)
    expires = int(time.time()) + 2592000
    first = fake.successful_payment(
        user,
        "sub:month",
        250,
        subscription_expiration_date=expires,
        is_recurring=True,
        is_first_recurring=True,
    )
    [update] = await bot(GetUpdates(timeout=0))
    paid = update.message.successful_payment
    assert paid is not None
    assert (paid.is_recurring, paid.is_first_recurring) == (True, True)
    assert paid.subscription_expiration_date == expires
    charge = first["message"]["successful_payment"]["telegram_payment_charge_id"]
    assert paid.telegram_payment_charge_id == charge

    assert await bot.edit_user_star_subscription(user.id, charge, is_canceled=True)
    assert fake.star_subscription(charge).canceled
    assert await bot.edit_user_star_subscription(user.id, charge, is_canceled=False)
    assert not fake.star_subscription(charge).canceled
    for user_id, charge_id in ((user.id, "stxNOPE"), (999, charge)):
        with pytest.raises(TelegramBadRequest, match="CHARGE_ID_INVALID"):
            await bot.edit_user_star_subscription(user_id, charge_id, is_canceled=True)

    renewal = fake.successful_payment(user, "sub:month", 250, is_recurring=True)
    renewed = renewal["message"]["successful_payment"]
    assert "is_first_recurring" not in renewed
    assert fake.star_subscription(renewed["telegram_payment_charge_id"]).charge_id == charge
    # Only the first payment names the subscription.
    with pytest.raises(TelegramBadRequest, match="CHARGE_ID_INVALID"):
        await bot.edit_user_star_subscription(user.id, renewed["telegram_payment_charge_id"], True)
    await bot.edit_user_star_subscription(user.id, charge, is_canceled=True)
    with pytest.raises(ValueError, match="canceled"):
        fake.successful_payment(user, "sub:month", 250, is_recurring=True)

    assert await bot.refund_star_payment(user.id, renewed["telegram_payment_charge_id"])
    history = await bot.get_star_transactions()
    assert [(t.id, t.amount) for t in history.transactions] == [
        (charge, 250),
        (renewed["telegram_payment_charge_id"], 250),
        (renewed["telegram_payment_charge_id"], 250),
    ]
    incoming, _, refund = history.transactions
    assert incoming.source is not None and incoming.source.user.id == user.id
    assert incoming.source.subscription_period == 2592000
    assert refund.receiver is not None and refund.source is None
    page = await bot.get_star_transactions(offset=1, limit=1)
    assert [t.source is not None for t in page.transactions] == [True]


async def test_get_chat_member(bot: Bot, fake: FakeTelegram) -> None:
    channel = fake.channel(-1001, username="vpn_news")
    for user_id, status in enumerate(sorted(MEMBER_STATUSES), start=2001):
        fake.set_member(channel.id, user_id, status)
        member = await bot.get_chat_member(channel.id, user_id)
        assert (member.status, member.user.id) == (status, user_id)
    assert (await bot.get_chat_member("@vpn_news", 3000)).status == "left"  # never joined
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat_member(-1009, 2001)
    with pytest.raises(TelegramBadRequest, match="invalid user_id specified"):
        await bot.get_chat_member(channel.id, 0)

    post = await bot.send_message(channel.id, "Новости сервиса")
    assert post.sender_chat is not None and post.sender_chat.id == channel.id
    assert post.from_user is None
    fake.set_member(channel.id, fake.bot_id, "member")  # the bot lost its admin rights
    with pytest.raises(TelegramBadRequest, match="Bad Request: member list is inaccessible"):
        await bot.get_chat_member(channel.id, 2001)
    assert (await bot.get_chat_member(channel.id, fake.bot_id)).status == "member"
    with pytest.raises(TelegramBadRequest, match="need administrator rights in the channel"):
        await bot.send_message(channel.id, "post")
    fake.set_member(channel.id, fake.bot_id, "kicked")
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the channel chat"):
        await bot.get_chat_member(channel.id, 2001)
    # set_member on a chat the fake does not know makes it a channel with the bot an admin.
    fake.set_member(-1002, 2001, "restricted")
    assert (await bot.get_chat_member(-1002, 2001)).status == "restricted"


async def test_forum_topics_and_thread_sends(bot: Bot, fake: FakeTelegram) -> None:
    forum = fake.forum(-1003, title="Поддержка")
    topic = await bot.create_forum_topic(forum.id, "Ann #1001", icon_color=0xFF93B2)
    assert (topic.name, topic.icon_color) == ("Ann #1001", 0xFF93B2)
    assert fake.forum_topics(forum.id) == [topic.model_dump(exclude_none=True)]
    long = await bot.create_forum_topic(forum.id, "x" * 200)
    assert long.name == "x" * 128  # TDLib truncates the name instead of refusing it
    assert long.icon_color in TOPIC_ICON_COLORS
    with pytest.raises(TelegramBadRequest, match="title must be non-empty"):
        await bot.create_forum_topic(forum.id, "   ")
    with pytest.raises(TelegramBadRequest, match="invalid icon color specified"):
        await bot.create_forum_topic(forum.id, "n", icon_color=0x1000000)
    user = fake.user(1011)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(user.id, "n")
    fake.forum(-1004, can_manage_topics=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(-1004, "n")

    thread = topic.message_thread_id
    text = await bot.send_message(forum.id, "Новое обращение", message_thread_id=thread)
    assert (text.message_thread_id, text.is_topic_message) == (thread, True)
    assert text.chat.type == "supergroup"
    assert text.reply_to_message is not None
    assert text.reply_to_message.forum_topic_created is not None
    photo = await bot.send_photo(
        forum.id, BufferedInputFile(png(), "s.png"), message_thread_id=thread
    )
    doc = await bot.send_document(
        forum.id, BufferedInputFile(b"log", "log.txt"), message_thread_id=thread
    )
    assert [s.message_thread_id for s in fake.sent_to(forum.id)] == [thread] * 3
    assert photo.message_thread_id == doc.message_thread_id == thread
    for chat_id in (forum.id, user.id):
        with pytest.raises(TelegramBadRequest, match="message thread not found"):
            await bot.send_message(chat_id, "lost", message_thread_id=thread + 100)
    reply = await bot.send_message(
        forum.id,
        "ответ",
        message_thread_id=thread,
        reply_parameters=ReplyParameters(message_id=text.message_id),
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == text.message_id
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(
            forum.id,
            "x",
            message_thread_id=thread,
            reply_parameters=ReplyParameters(message_id=999),
        )


async def test_incoming_topic_and_media_messages(bot: Bot, fake: FakeTelegram) -> None:
    forum = fake.forum(-1005)
    thread = fake.add_topic(forum.id, "Bob #1012")["message_thread_id"]
    user = fake.user(1012, first_name="Bob")
    staff = fake.user(5001, first_name="Staff")
    bot_message = await bot.send_message(forum.id, "вопрос от Bob", message_thread_id=thread)
    [copied] = fake.sent_to(forum.id)
    fake.send_topic(forum.id, staff, "Здравствуйте!", message_thread_id=thread, reply_to=copied)
    fake.send_topic(forum.id, staff, "/close", message_thread_id=thread)
    image = png(320, 200)
    fake.send_media(user, "photo", image, caption="скрин ошибки")
    fake.send_media(user, "document", b"log line\n", filename="wg.log")
    fake.send_media(user, "video", caption="запись экрана")

    replied, command, photo, document, video = [u.message for u in await bot(GetUpdates(timeout=0))]
    assert replied is not None and command is not None
    assert (replied.chat.type, replied.chat.id, replied.from_user.id) == (
        "supergroup",
        forum.id,
        staff.id,
    )
    assert (replied.message_thread_id, replied.is_topic_message) == (thread, True)
    assert replied.reply_to_message.message_id == bot_message.message_id
    # Without an explicit reply, a topic message replies to the topic's creation message.
    assert command.reply_to_message.message_id == thread
    assert command.reply_to_message.forum_topic_created is not None
    assert command.entities[0].type == "bot_command"

    assert (photo.chat.type, photo.caption) == ("private", "скрин ошибки")
    assert (photo.photo[-1].width, photo.photo[-1].height) == (320, 200)
    downloaded = await bot.download(photo.photo[-1].file_id)
    assert downloaded is not None and downloaded.read() == image
    assert document.document is not None and document.document.file_name == "wg.log"
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None and file.file_path.endswith(".log")
    got = await bot.download(document.document.file_id)
    assert got is not None and got.read() == b"log line\n"
    assert video.video is not None and video.caption == "запись экрана"
    assert video.video.duration > 0
    screenshot = fake.send_media(staff, "photo", chat_id=forum.id, message_thread_id=thread)
    staff_photo = screenshot["message"]
    assert (staff_photo["message_thread_id"], staff_photo["chat"]["type"]) == (thread, "supergroup")
    assert staff_photo["reply_to_message"]["message_id"] == thread
    with pytest.raises(ValueError, match="no topic"):
        fake.send_topic(forum.id, staff, "x", message_thread_id=thread + 50)


async def test_copy_and_forward_messages(bot: Bot, fake: FakeTelegram) -> None:
    forum = fake.forum(-1006)
    thread = (await bot.create_forum_topic(forum.id, "Ann")).message_thread_id
    user = fake.user(1013)
    image = png(100, 80)
    photo = fake.send_media(user, "photo", image, caption="old")["message"]
    document = fake.send_media(user, "document", b"cfg", filename="a.conf", caption="conf")[
        "message"
    ]
    text = fake.send_text(user, "Не работает VPN")["message"]

    copy = await bot.copy_message(
        forum.id,
        user.id,
        photo["message_id"],
        message_thread_id=thread,
        caption="<b>new</b>",
        parse_mode="HTML",
    )
    sent = fake.sent_to(forum.id)[-1]
    assert sent.message_id == copy.message_id
    assert (sent.method, sent.source, sent.message_thread_id) == (
        "copyMessage",
        (user.id, photo["message_id"]),
        thread,
    )
    assert sent.photo is not None and sent.photo.content == image
    assert (sent.text, sent.message["caption_entities"][0]["type"]) == ("new", "bold")
    await bot.copy_message(forum.id, user.id, document["message_id"], message_thread_id=thread)
    kept = fake.sent_to(forum.id)[-1]
    assert kept.document is not None and (kept.document.content, kept.text) == (b"cfg", "conf")
    # And back: staff's answer copied to the user's private chat.
    staff_text = fake.send_topic(forum.id, 5002, "Перезапустите", message_thread_id=thread)
    await bot.copy_message(user.id, forum.id, staff_text["message"]["message_id"])
    assert fake.sent_to(user.id)[-1].text == "Перезапустите"

    forwarded = await bot.forward_message(
        forum.id, user.id, text["message_id"], message_thread_id=thread
    )
    assert forwarded.text == "Не работает VPN"
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"
    assert fake.sent_to(forum.id)[-1].method == "forwardMessage"

    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(forum.id, user.id, 999)
    with pytest.raises(TelegramBadRequest, match="message to forward not found"):
        await bot.forward_message(forum.id, user.id, 999)
    with pytest.raises(TelegramBadRequest, match="message can't be copied"):
        await bot.copy_message(user.id, forum.id, thread)  # the topic-created service message
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.copy_message(forum.id, user.id, text["message_id"], message_thread_id=4242)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.copy_message(forum.id, -1999, text["message_id"])


async def test_send_video_and_file_ids(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1014)
    clip = b"\x00\x00\x00\x18ftypmp42 fake video"
    video = await bot.send_video(
        user.id,
        BufferedInputFile(clip, "guide.mp4"),
        caption="<i>Как подключиться</i>",
        parse_mode="HTML",
        width=1280,
        height=720,
        duration=42,
        reply_markup=keyboard(InlineKeyboardButton(text="Ok", callback_data="ok")),
    )
    assert video.video is not None
    assert (video.video.width, video.video.duration, video.video.file_name) == (
        1280,
        42,
        "guide.mp4",
    )
    assert video.caption == "Как подключиться"
    assert video.caption_entities is not None and video.caption_entities[0].type == "italic"
    sent = fake.sent_to(user.id)[-1]
    assert (sent.method, sent.video.content) == ("sendVideo", clip)
    again = await bot.send_video(user.id, video.video.file_id)
    assert again.video is not None and again.video.file_unique_id == video.video.file_unique_id
    assert again.video.duration == 42
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_video(user.id, video.video.file_id, caption="c" * 1025)

    def photo_id_of(file_id: str) -> Callable[[], Awaitable[Message]]:
        return lambda: bot.send_photo(user.id, file_id)

    def document_id_of(file_id: str) -> Callable[[], Awaitable[Message]]:
        return lambda: bot.send_document(user.id, file_id)

    def video_id_of(file_id: str) -> Callable[[], Awaitable[Message]]:
        return lambda: bot.send_video(user.id, file_id)

    photo_id = fake.send_media(user, "photo")["message"]["photo"][-1]["file_id"]
    doc_id = fake.send_media(user, "document", b"x")["message"]["document"]["file_id"]
    assert (await bot.send_photo(user.id, photo_id)).photo is not None
    assert (await bot.send_document(user.id, doc_id)).document is not None
    refused = [
        (photo_id_of("AgACAgIAAxkBAAIBnonexistent"), "wrong file identifier/HTTP URL specified"),
        (document_id_of("BQACAgIAAxkBAAIBnonexistent"), "wrong file identifier/HTTP URL specified"),
        (photo_id_of(doc_id), "can't use file of type Document as Photo"),
        (document_id_of(photo_id), "can't use file of type Photo as Document"),
        (video_id_of(photo_id), "can't use file of type Photo as Video"),
    ]
    for call, error in refused:
        with pytest.raises(TelegramBadRequest, match=error):
            await call()


async def test_web_app_menu_button_and_inline_buttons(bot: Bot, fake: FakeTelegram) -> None:
    user = fake.user(1015)
    app = MenuButtonWebApp(text="Кабинет", web_app=WebAppInfo(url="https://vpn.example/app"))
    assert await bot.set_chat_menu_button(chat_id=user.id, menu_button=app)
    shown = await bot.get_chat_menu_button(chat_id=user.id)
    assert isinstance(shown, MenuButtonWebApp) and shown.web_app.url == "https://vpn.example/app"
    http = MenuButtonWebApp(text="Кабинет", web_app=WebAppInfo(url="http://vpn.example/app"))
    with pytest.raises(
        TelegramBadRequest,
        match=re.escape("menu button Web App URL 'http://vpn.example/app' is invalid: Only HTTPS"),
    ):
        await bot.set_chat_menu_button(menu_button=http)
    nameless = MenuButtonWebApp(text="", web_app=WebAppInfo(url="https://vpn.example/app"))
    with pytest.raises(TelegramBadRequest, match="menu button text must be non-empty"):
        await bot.set_chat_menu_button(menu_button=nameless)

    def web_app(url: str) -> InlineKeyboardMarkup:
        return keyboard(InlineKeyboardButton(text="Открыть", web_app=WebAppInfo(url=url)))

    message = await bot.send_message(
        user.id, "app", reply_markup=web_app("https://vpn.example/app")
    )
    assert message.reply_markup is not None
    with pytest.raises(
        TelegramBadRequest,
        match=re.escape("inline keyboard button Web App URL 'http://vpn.example' is invalid"),
    ):
        await bot.send_message(user.id, "app", reply_markup=web_app("http://vpn.example"))
    forum = fake.forum(-1007)
    with pytest.raises(TelegramBadRequest, match="BUTTON_TYPE_INVALID"):
        await bot.send_message(forum.id, "app", reply_markup=web_app("https://vpn.example/app"))
    bad_url = keyboard(InlineKeyboardButton(text="Help", url="javascript:alert(1)"))
    with pytest.raises(TelegramBadRequest, match="BUTTON_URL_INVALID"):
        await bot.send_message(user.id, "help", reply_markup=bad_url)
    assert (await bot.get_me()).has_main_web_app is False
