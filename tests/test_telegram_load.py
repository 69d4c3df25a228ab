"""Replies survive load: a 2,000-user broadcast runs against a Bot API that enforces 30
messages per second (429 above it) while 50 users press "Get config" at once. Answers to users
go first through the bot's one pacer, the broadcast takes what is left."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pydantic._internal._generics as pydantic_generics
import pytest

from db.models import BroadcastAudience, DeliveryState
from keyboards.callbacks import MenuAction, MenuCD
from services.broadcasts import Audience, BroadcastMessage
from tests.conftest import ADMIN_ID, App, first_config, open_app
from tests.fakes.telegram_api import FakeTelegram
from tests.test_broadcast import add_users, copies, deliveries

USERS = range(200_001, 202_001)
PRESSERS = USERS[-50:]  # also in the broadcast's audience, near its end
TEXT = "Плановые работы завтра ночью"


@pytest.fixture
async def busy_app(tmp_path: Path, telegram: FakeTelegram) -> AsyncIterator[App]:
    telegram.rate_limit = 30
    world = await open_app(tmp_path, telegram, None, broadcast_rate=30)
    yield world
    await world.close()


async def test_50_users_get_their_config_during_a_2000_user_broadcast(busy_app: App) -> None:
    app = busy_app
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await add_users(app, USERS)
    menus = {}
    for user_id in PRESSERS:
        (menus[user_id],) = await app.say(user_id, "/start")

    broadcast = await app.services.broadcasts.create(
        ADMIN_ID, BroadcastMessage(TEXT), TEXT, Audience(BroadcastAudience.ACCESS)
    )
    assert broadcast is not None and broadcast.total == 2001  # with the admin
    began = time.monotonic()
    runner = app.services.broadcasts.start(broadcast.id)
    while sum(copies(app, TEXT, user_id) for user_id in USERS[:500]) < 300:
        await asyncio.sleep(0.05)

    config = MenuCD(action=MenuAction.CONFIG).pack()
    pressed = time.monotonic()
    answers = await asyncio.gather(
        *(app.press(user_id, menus[user_id], config) for user_id in PRESSERS)
    )
    served_in = time.monotonic() - pressed
    await runner
    took = time.monotonic() - began

    for user_id, sent in zip(PRESSERS, answers, strict=True):
        files = [message for message in sent if message.document or message.photo]
        assert [m.method for m in files] == ["sendDocument", "sendPhoto"], (user_id, sent)
        expected = await first_config(app.services, user_id)
        assert files[0].document.content.decode() == expected.text
        assert "пошло не так" not in " ".join(m.text or "" for m in sent)

    got = Counter({user_id: copies(app, TEXT, user_id) for user_id in USERS})
    assert [user_id for user_id, n in got.items() if n != 1] == [], "each user exactly once"
    states = Counter((await deliveries(app.services, broadcast.id)).values())
    assert states == Counter({DeliveryState.SENT: 2001})
    assert app.telegram.too_many_requests == 0, "one pacer for answers and the broadcast"
    print(
        f"\n2,000-user broadcast in {took:.1f} s; 50 configs (100 files) during it in "
        f"{served_in:.1f} s; 429 answers: {app.telegram.too_many_requests}"
    )


async def test_each_kind_of_answer_is_parsed_by_a_class_built_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydantic caches `Response[Message]` weakly: without the bot's session keeping it, a
    garbage collection between two messages made the next one build the class again (about
    10 ms, on one /get_config in five in the bench)."""
    built: list[str] = []
    build = pydantic_generics.create_generic_submodel

    def counted(name: str, *args: Any) -> Any:
        built.append(name)
        return build(name, *args)

    await app.say(ADMIN_ID, "/start")
    monkeypatch.setattr(pydantic_generics, "create_generic_submodel", counted)
    for number in range(3):
        await app.bot.send_message(ADMIN_ID, f"message {number}")
        gc.collect()
    assert built.count("Response[Message]") <= 1
    assert [sent.text for sent in app.telegram.sent_to(ADMIN_ID)][-3:] == [
        "message 0",
        "message 1",
        "message 2",
    ]
