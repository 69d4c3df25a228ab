"""Support through the dispatcher: a user's messages reach the staff (a topic per user in the
support forum, or each staff member's private chat), the staff's replies reach the user as the
bot's, and a restart between the two loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AlertMark, RelayState, SupportMessage, SupportThread
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram, Sent

FORUM = -1001500000001
ANNA = 4001
SUPPORT = 4002  # the support role, from SUPPORT_IDS
STRANGER = 4003  # a member of the forum who is not staff


async def support_app(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, *, forum: bool
) -> App:
    """A bot process; with the support forum when `forum`, else staff answer privately."""
    settings: dict[str, Any] = {"support_ids": str(SUPPORT)}
    if forum:
        settings["support_chat_id"] = FORUM
    return await open_app(tmp_path, telegram, database_url, **settings)


@pytest.fixture
async def opened() -> AsyncIterator[list[App]]:
    """The apps a test opens, closed at its end (a restart closes one and opens another)."""
    apps: list[App] = []
    yield apps
    for app in apps:
        await app.close()


async def restart(app: App, opened: list[App], database_url: str | None, *, forum: bool) -> App:
    """Close the process and open another on the same database and the same Telegram."""
    await app.close()
    opened.remove(app)
    again = await support_app(app.settings.data_dir.parent, app.telegram, database_url, forum=forum)
    opened.append(again)
    return again


def in_forum(telegram: FakeTelegram, thread: int | None = None) -> list[Sent]:
    sent = telegram.sent_to(FORUM)
    return [s for s in sent if thread is None or s.message_thread_id == thread]


async def feed(app: App, update: dict[str, Any]) -> list[Sent]:
    """Feed an update; what the bot sent back into the chat it came from."""
    chat_id = update["message"]["chat"]["id"]
    before = len(app.telegram.sent_to(chat_id))
    await app.feed(update)
    return app.telegram.sent_to(chat_id)[before:]


async def write(app: App, user_id: int, text: str, reply_to: Sent | None = None) -> list[Sent]:
    """The user (as the fake knows them, name kept) writes `text` to the bot."""
    return await feed(app, app.telegram.send_text(user_id, text, reply_to=reply_to))


async def tap(app: App, user_id: int, message: Sent, button: str) -> list[Sent]:
    before = len(app.telegram.sent_to(user_id))
    await app.feed(app.telegram.press_button(user_id, message, button))
    return app.telegram.sent_to(user_id)[before:]


async def thread_of(app: App, user_id: int) -> SupportThread | None:
    async with app.services.sessions() as session:
        return await session.get(SupportThread, user_id)


async def test_forum_relay_both_ways_survives_a_restart(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, opened: list[App]
) -> None:
    forum = telegram.forum(FORUM, title="Поддержка")
    telegram.user(ANNA, "Анна", "anna")
    app = await support_app(tmp_path, telegram, database_url, forum=True)
    opened.append(app)
    await app.say(ADMIN_ID, "/start")
    await app.say(SUPPORT, "/start")
    await write(app, ANNA, "/start")

    # /help has the button; it opens the conversation.
    (help_text,) = await write(app, ANNA, "/help")
    (prompt,) = await tap(app, ANNA, help_text, "Написать в поддержку")
    assert prompt.text.startswith("💬 Поддержка\nНапишите, что случилось")
    assert [b["text"] for b in prompt.buttons] == ["✅ Готово, закончить"]
    assert in_forum(telegram) == [], "no topic before the first message"

    question = telegram.send_text(ANNA, "Не подключается на iPhone")
    assert [m.text for m in await feed(app, question)] == [
        "✅ Передали в поддержку. Ответ придёт сюда. Можно дописать ещё — всё уйдёт туда же."
    ]
    (topic,) = telegram.forum_topics(FORUM)
    assert topic["name"] == "Анна @anna · 4001"
    thread = topic["message_thread_id"]
    header, copied = in_forum(telegram, thread)
    assert header.text.startswith("🆕 Обращение: Анна @anna (id 4001), язык ru.")
    assert (copied.method, copied.text, copied.source) == (
        "copyMessage",
        "Не подключается на iPhone",
        (ANNA, question["message"]["message_id"]),
    )
    assert await feed(app, telegram.send_media(ANNA, "photo", caption="скрин ошибки")) == []
    log = telegram.send_media(ANNA, "document", b"log\n", filename="wg.log")
    assert await feed(app, log) == [], "only the first message is acknowledged"
    photo, document = in_forum(telegram, thread)[-2:]
    assert photo.photo is not None and photo.text == "скрин ошибки"
    assert document.document is not None and document.document.content == b"log\n"
    refused = await feed(app, telegram.send_media(ANNA, "video"))
    assert [m.text for m in refused] == [
        "Поддержка принимает текст, фото и файлы. Опишите словами или пришлите скриншот."
    ]
    assert len(in_forum(telegram, thread)) == 4

    # The card links to the topic and says the conversation is open.
    card = (await app.say(ADMIN_ID, "/user 4001"))[-1]
    assert "💬 Поддержка: обращение открыто, последнее сообщение 23.11.2026" in card.text
    links = [e["url"] for e in card.message.get("entities", []) if e["type"] == "text_link"]
    assert links == [f"https://t.me/c/1500000001/{thread}"]

    # The bot restarts between Anna's messages and the staff's replies.
    app = await restart(app, opened, database_url, forum=True)
    before = len(telegram.sent_to(ANNA))
    said = telegram.send_topic(FORUM, ADMIN_ID, "Перезапустите WireGuard", message_thread_id=thread)
    assert await feed(app, said) == [], "nothing more in the topic when it went"
    shown = telegram.send_media(
        SUPPORT,
        "photo",
        caption="вот так",
        chat_id=FORUM,
        message_thread_id=thread,
        reply_to=copied,
    )
    await feed(app, shown)
    got = telegram.sent_to(ANNA)[before:]
    assert [(m.method, m.text, m.source) for m in got] == [
        ("copyMessage", "Перезапустите WireGuard", (FORUM, said["message"]["message_id"])),
        ("copyMessage", "вот так", (FORUM, shown["message"]["message_id"])),
    ]
    assert got[1].photo is not None
    assert got[0].buttons == [], "the conversation is open: no button to reply"
    # Anna is still in the conversation after the restart: her answer goes to the same topic.
    assert await write(app, ANNA, "Помогло, спасибо!") == []
    assert in_forum(telegram, thread)[-1].text == "Помогло, спасибо!"
    assert len(telegram.forum_topics(FORUM)) == 1

    # Someone in the forum who is not staff: dropped before anything is written.
    stranger = telegram.send_topic(FORUM, STRANGER, "я тоже тут", message_thread_id=thread)
    assert await feed(app, stranger) == []
    assert await app.user(STRANGER) is None
    # Staff in another group: dropped too.
    telegram.forum(-1001500000999, title="Другой чат")
    other = telegram.add_topic(-1001500000999, "x")["message_thread_id"]
    elsewhere = telegram.send_topic(-1001500000999, ADMIN_ID, "не сюда", message_thread_id=other)
    assert await feed(app, elsewhere) == []
    assert len(telegram.sent_to(ANNA)) == before + 2

    # Anna ends it; her next text is an ordinary message; the staff's answer still reaches her,
    # with a button that opens the conversation again.
    (closed,) = await write(app, ANNA, "/done")
    assert closed.text.startswith("Готово, обращение закрыто.")
    assert in_forum(telegram, thread)[-1].text.startswith("Пользователь закрыл обращение.")
    count = len(in_forum(telegram))
    assert "/help" in (await write(app, ANNA, "ещё вопрос"))[0].text
    assert len(in_forum(telegram)) == count
    await feed(
        app, telegram.send_topic(FORUM, SUPPORT, "Если что — пишите", message_thread_id=thread)
    )
    late = telegram.sent_to(ANNA)[-1]
    assert late.text == "Если что — пишите"
    assert [b["text"] for b in late.buttons] == ["💬 Ответить"]
    (again,) = await tap(app, ANNA, late, "Ответить")
    assert again.text.startswith("💬 Поддержка")
    reopened = await thread_of(app, ANNA)
    assert reopened is not None and reopened.open

    # Staff close it from the topic; commands other than /close stay with the bot.
    await feed(app, telegram.send_topic(FORUM, ADMIN_ID, "/status", message_thread_id=thread))
    assert in_forum(telegram, thread)[-1].text.startswith(
        "Здесь команды не работают, кроме /close."
    )
    await feed(app, telegram.send_topic(FORUM, ADMIN_ID, "/close", message_thread_id=thread))
    assert in_forum(telegram, thread)[-1].text == "Обращение закрыто, пользователь уведомлён."
    assert telegram.sent_to(ANNA)[-1].text.startswith("Поддержка закрыла обращение.")
    card = (await app.say(ADMIN_ID, "/user 4001"))[-1]
    assert "💬 Поддержка: обращение закрыто" in card.text
    assert forum.topics.keys() == {thread}


async def test_without_a_forum_staff_answer_by_replying_and_a_restart_loses_nothing(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, opened: list[App]
) -> None:
    telegram.user(ANNA, "Анна", "anna")
    app = await support_app(tmp_path, telegram, database_url, forum=False)
    opened.append(app)
    await write(app, ANNA, "/start")
    (unavailable,) = await write(app, ANNA, "/support")
    assert unavailable.text.startswith("Сейчас поддержка недоступна: некому ответить.")
    assert await write(app, ANNA, "алло") != [], "not in support: an ordinary message"
    await app.say(ADMIN_ID, "/start")
    await app.say(SUPPORT, "/start")
    await write(app, ANNA, "/support")

    question = telegram.send_text(ANNA, "Оплатил, а доступа нет")
    (sent,) = await feed(app, question)
    assert sent.text.startswith("✅ Передали в поддержку.")
    copies = {}
    for staff in (ADMIN_ID, SUPPORT):
        header, copy = telegram.sent_to(staff)[-2:]
        assert header.text.startswith("📩 Пишет в поддержку: Анна @anna (id 4001).")
        assert "ответьте на его сообщение" in header.text
        assert (copy.method, copy.text, copy.source) == (
            "copyMessage",
            "Оплатил, а доступа нет",
            (ANNA, question["message"]["message_id"]),
        )
        assert [b["text"] for b in copy.buttons] == ["👤 Анна · 4001"]
        copies[staff] = copy
    await feed(app, telegram.send_media(ANNA, "photo", caption="чек"))
    for staff in (ADMIN_ID, SUPPORT):
        latest = telegram.sent_to(staff)[-1]
        assert latest.photo is not None and latest.text == "чек", "no second header"

    # The bot restarts before anyone answers.
    app = await restart(app, opened, database_url, forum=False)
    before = len(telegram.sent_to(ANNA))
    assert await write(app, SUPPORT, "Проверим и вернёмся", reply_to=copies[SUPPORT]) == []
    receipt = telegram.send_media(
        ADMIN_ID, "document", b"%PDF receipt", filename="refund.pdf", reply_to=copies[ADMIN_ID]
    )
    assert await feed(app, receipt) == []
    got = telegram.sent_to(ANNA)[before:]
    assert [(m.method, m.text) for m in got] == [
        ("copyMessage", "Проверим и вернёмся"),
        ("copyMessage", None),
    ]
    assert got[1].document is not None and got[1].document.content == b"%PDF receipt"
    # A staff message that replies to nothing of Anna's is the staff's own: not relayed.
    assert "/help" in (await write(app, SUPPORT, "просто так"))[0].text
    assert len(telegram.sent_to(ANNA)) == before + 2

    # The button under a relayed message opens the card as a new message; the copy stays.
    (card,) = await tap(app, SUPPORT, copies[SUPPORT], "Анна")
    assert card.message_id != copies[SUPPORT].message_id
    assert "💬 Поддержка: обращение открыто" in card.text and "тема" not in card.text
    assert (copies[SUPPORT].text, copies[SUPPORT].edits) == ("Оплатил, а доступа нет", 0)
    (closed,) = await write(app, SUPPORT, "/close", reply_to=copies[SUPPORT])
    assert closed.text == "Обращение закрыто, пользователь уведомлён."
    assert telegram.sent_to(ANNA)[-1].text.startswith("Поддержка закрыла обращение.")
    (again,) = await write(app, ADMIN_ID, "/close", reply_to=copies[ADMIN_ID])
    assert again.text == "Обращение уже закрыто."


async def test_a_copy_telegram_refuses_is_kept_and_sent_after_the_restart(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, opened: list[App]
) -> None:
    """A forum where the bot may not make topics, then Telegram failing a staff reply: the
    messages wait in the database and the retry job delivers them, in order, after a restart."""
    forum = telegram.forum(FORUM, can_manage_topics=False)
    app = await support_app(tmp_path, telegram, database_url, forum=True)
    opened.append(app)
    await app.say(ADMIN_ID, "/start")
    await write(app, ANNA, "/start")
    await write(app, ANNA, "/support")
    for text in ("Срочно: не работает", "И на ноутбуке тоже"):
        (queued,) = await write(app, ANNA, text)
        assert queued.text.startswith("⏳ Поддержка сейчас не на связи: сообщение сохранено")
    alerts = [m.text for m in telegram.sent_to(ADMIN_ID) if "SUPPORT_CHAT_ID" in (m.text or "")]
    assert alerts == [
        "⚠️ Бот не может писать в чат поддержки (SUPPORT_CHAT_ID): Bad Request: not enough "
        "rights to create a topic. Сделайте бота администратором с правом «Управление темами»; "
        "сообщения пользователей сохранены и уйдут, как только получится."
    ], "one alert, not one per message"
    assert telegram.forum_topics(FORUM) == []

    forum.can_manage_topics = True  # the operator fixes the rights
    app = await restart(app, opened, database_url, forum=True)
    assert await app.services.support.retry() == 0, "too fresh: a handler may still send them"
    app.clock.advance(minutes=1)
    assert await app.services.support.retry() == 2
    (topic,) = telegram.forum_topics(FORUM)
    thread = topic["message_thread_id"]
    assert [s.text for s in in_forum(telegram, thread)][1:] == [
        "Срочно: не работает",
        "И на ноутбуке тоже",
    ]

    telegram.fail_next("copyMessage", status=500)
    before = len(telegram.sent_to(ANNA))
    reply = telegram.send_topic(FORUM, ADMIN_ID, "Уже чиним", message_thread_id=thread)
    (kept,) = await feed(app, reply)
    assert kept.text.startswith("⏳ Telegram пока не принял ответ")
    assert len(telegram.sent_to(ANNA)) == before
    app.clock.advance(minutes=1)
    assert await app.services.support.retry() == 1
    assert telegram.sent_to(ANNA)[-1].text == "Уже чиним"
    assert await app.services.support.retry() == 0, "sent once"
    async with app.services.sessions() as session:
        states = (await session.scalars(select(SupportMessage.state))).all()
        marks = (await session.scalars(select(AlertMark.key))).all()
    assert set(states) == {RelayState.SENT} and len(states) == 3
    assert marks == ["support:chat"]


async def test_a_deleted_topic_is_made_again_and_one_topic_for_messages_at_once(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, opened: list[App]
) -> None:
    forum = telegram.forum(FORUM)
    app = await support_app(tmp_path, telegram, database_url, forum=True)
    opened.append(app)
    await write(app, ANNA, "/start")
    await write(app, ANNA, "/support")
    first, second = telegram.send_text(ANNA, "раз"), telegram.send_text(ANNA, "два")
    await asyncio.gather(app.feed(first), app.feed(second))
    (topic,) = telegram.forum_topics(FORUM)
    old = topic["message_thread_id"]
    assert [s.text for s in in_forum(telegram, old)][1:] == ["раз", "два"]

    del forum.topics[old]  # staff deleted the topic
    await write(app, ANNA, "три")
    (new_topic,) = telegram.forum_topics(FORUM)
    new = new_topic["message_thread_id"]
    assert new != old
    assert [s.text for s in in_forum(telegram, new)][1:] == ["три"]
    thread = await thread_of(app, ANNA)
    assert thread is not None and thread.topic_id == new
    await feed(app, telegram.send_topic(FORUM, ADMIN_ID, "Нашли!", message_thread_id=new))
    assert telegram.sent_to(ANNA)[-1].text == "Нашли!"
