"""Nudges, as the scheduler sends them and the user presses their buttons through the real
Dispatcher: set-up help when a first config never connected, "is something wrong?" after a
paying user's silence, one offer after a trial ended unpaid; each once per user and period,
across restarts, and each turned off by its setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from db.models import AccessKind, Device, Nudge, User
from services.nudges import NudgeService
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram

USER = 2401
PLATFORM_NAMES = ["iOS", "Android", "Windows", "macOS", "Linux"]


@pytest.fixture
async def shop_app(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> AsyncIterator[App]:
    """The bot with Telegram Stars on: something to pay with, so a trial's offer goes out."""
    world = await open_app(tmp_path, telegram, database_url, stars_enabled=True)
    yield world
    await world.close()


async def nudged(app: App, user_id: int = USER) -> list[Any]:
    """What one pass of the nudges sent the user."""
    before = len(app.telegram.sent_to(user_id))
    await app.services.nudges.run()
    return app.telegram.sent_to(user_id)[before:]


async def set_access(app: App, kind: AccessKind, days: float, user_id: int = USER) -> None:
    async with app.services.sessions.begin() as session:
        user = await session.get_one(User, user_id)
        user.access_kind = kind
        user.access_until = app.clock() + timedelta(days=days)


async def handshake(app: App, user_id: int = USER) -> None:
    """A handshake now from the user's devices, as the probes store it."""
    async with app.services.sessions.begin() as session:
        await session.execute(
            update(Device).where(Device.user_id == user_id).values(last_handshake_at=app.clock())
        )


async def recorded(app: App) -> list[tuple[int, str]]:
    async with app.services.sessions() as session:
        rows = await session.execute(select(Nudge.user_id, Nudge.kind).order_by(Nudge.id))
        return [(user_id, kind) for user_id, kind in rows.all()]


def labels(message: Any) -> list[str]:
    return [button["text"] for button in message.buttons]


async def test_a_config_that_never_connected_gets_set_up_help_once(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")

    app.clock.advance(hours=23)
    assert await nudged(app) == []
    app.clock.advance(hours=2)
    (message,) = await nudged(app)
    assert (message.text or "").startswith("👋 Конфигурация у вас есть, но VPN ещё ни разу")
    assert labels(message) == [*PLATFORM_NAMES, "💬 Написать в поддержку"]
    assert await recorded(app) == [(USER, "setup")]

    steps = await app.press(USER, message, message.button("Android")["callback_data"])
    assert (steps[0].text or "").startswith("Android\n1. Установите приложение WireGuard")
    await app.say(ADMIN_ID, "/start")  # someone to answer
    helped = await app.press(USER, message, message.button("Написать в поддержку")["callback_data"])
    assert "Напишите, что случилось" in (helped[0].text or "")

    app.clock.advance(hours=1)
    assert await nudged(app) == [], "once per period"
    restarted = NudgeService(app.services.sessions, app.services.nudges._delays, app.clock)
    restarted.notifier = app.services.nudges.notifier
    before = len(app.telegram.sent_to(USER))
    assert await restarted.run() == 0, "a restart sends nothing twice"
    assert len(app.telegram.sent_to(USER)) == before
    assert await recorded(app) == [(USER, "setup")]


async def test_a_device_that_connected_gets_no_set_up_help(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    app.clock.advance(hours=1)
    await handshake(app)
    app.clock.advance(days=2)
    assert await nudged(app) == []
    assert await recorded(app) == []


async def test_a_silent_paying_user_is_asked_once_per_silence(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.add_node("de1", "Frankfurt")
    await app.services.users.grant(USER, None, create=True)
    await set_access(app, AccessKind.PAID, 90)
    await app.say(USER, "/get_config")
    await handshake(app)

    app.clock.advance(days=13, hours=23)
    assert await nudged(app) == []
    app.clock.advance(hours=2)
    (message,) = await nudged(app)
    assert (message.text or "").startswith("🤔 Ваши устройства давно не подключались к VPN.")
    assert "Что-то не так?" in (message.text or "")
    assert labels(message) == ["💬 Написать в поддержку", "🌍 Сменить сервер"]
    servers = await app.press(USER, message, message.button("Сменить сервер")["callback_data"])
    assert (servers[0].text or "").startswith("Сейчас ваш сервер:")
    assert {b["text"].removeprefix("✅ ")[:3] for b in servers[0].buttons[:2]} == {"nl1", "de1"}
    app.clock.advance(days=3)
    assert await nudged(app) == [], "once per silence"

    await handshake(app)  # back, then silent again: a new period
    app.clock.advance(days=15)
    (again,) = await nudged(app)
    assert "Что-то не так?" in (again.text or "")
    assert await recorded(app) == [(USER, "silent"), (USER, "silent")]


async def test_a_silent_invited_user_is_not_asked(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    await handshake(app)
    app.clock.advance(days=15)
    assert await nudged(app) == []


async def test_a_trial_that_ended_unpaid_gets_one_offer(shop_app: App) -> None:
    app = shop_app
    payer = USER + 1
    await app.say(USER, "/start")
    await app.say(payer, "/start")
    await set_access(app, AccessKind.TRIAL, 3)
    await set_access(app, AccessKind.TRIAL, 3, payer)

    app.clock.advance(days=3, hours=23)
    assert await nudged(app) == []
    await set_access(app, AccessKind.PAID, 30, payer)  # paid after the trial: no offer
    app.clock.advance(hours=2)
    (offer,) = await nudged(app)
    assert (offer.text or "").startswith("🎁 Пробный период закончился.")
    assert labels(offer) == ["💳 Выбрать тариф"]
    plans = await app.press(USER, offer, offer.button("Выбрать тариф")["callback_data"])
    assert (plans[0].text or "").startswith("💳 Тарифы")
    app.clock.advance(days=2)
    assert await nudged(app) == [], "one offer"
    assert await recorded(app) == [(USER, "offer")]


async def test_a_trial_gets_no_offer_while_nothing_can_be_paid_with(app: App) -> None:
    await app.say(USER, "/start")
    await set_access(app, AccessKind.TRIAL, 1)
    app.clock.advance(days=3)
    assert await nudged(app) == []


async def test_causes_from_before_the_lookback_are_left_alone(app: App) -> None:
    """A first deploy does not write to everyone who went quiet long ago."""
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    app.clock.advance(days=9)
    assert await nudged(app) == []


async def test_each_nudge_can_be_turned_off(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    app = await open_app(
        tmp_path,
        telegram,
        database_url,
        stars_enabled=True,
        nudge_setup_hours=0,
        nudge_silent_days=0,
        nudge_trial_hours=0,
    )
    try:
        await app.add_node("nl1", "Amsterdam")
        await app.services.users.grant(USER, None, create=True)
        await set_access(app, AccessKind.PAID, 90)
        await app.say(USER, "/get_config")  # never connects: no set-up help
        await app.say(USER + 1, "/start")
        await set_access(app, AccessKind.TRIAL, 1, USER + 1)
        await app.say(USER + 2, "/start")
        await app.services.users.grant(USER + 2, None)
        await set_access(app, AccessKind.PAID, 90, USER + 2)
        await app.say(USER + 2, "/get_config")
        await handshake(app, USER + 2)

        for _ in range(3):
            app.clock.advance(days=5)
            for user_id in (USER, USER + 1, USER + 2):
                assert await nudged(app, user_id) == []
        assert await recorded(app) == []
    finally:
        await app.close()
