"""Throttling: a flood gets one warning and spares the nodes and the database (no write before
the throttle, none for a banned user); the user is served after a pause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.settings import SettingsError, load_settings
from bot.throttle import ThrottleMiddleware
from keyboards.callbacks import MenuAction, MenuCD
from tests.conftest import ADMIN_ID, App

WARNING = "⏳ Слишком много запросов. Подождите 30 с и попробуйте снова."


def _count_status_reads(app: App) -> list[int]:
    """The users whose device status the bot looked up (the work a served /status does)."""
    reads: list[int] = []
    original = app.services.devices.status

    async def status(user_id: int) -> Any:
        reads.append(user_id)
        return await original(user_id)

    app.services.devices.status = status  # type: ignore[method-assign]
    return reads


async def test_a_flood_gets_one_warning_and_is_not_served(app: App) -> None:
    await app.add_node("nl1")
    await app.services.users.grant(9001, None, create=True)
    await app.say(9001, "/get_config")
    app.clock.advance(seconds=11)
    reads = _count_status_reads(app)

    answers = []
    for _ in range(20):
        answers += await app.say(9001, "/status")
    assert [m.text for m in answers].count(WARNING) == 1
    assert len(answers) == 9, "8 served, then the one warning, then silence"
    assert answers[-1].text == WARNING
    assert len(reads) == 8

    status = answers[0]
    before = dict(app.telegram.answered_callbacks)
    await app.press(9001, status, MenuCD(action=MenuAction.STATUS).pack())
    answered = [q for key, q in app.telegram.answered_callbacks.items() if key not in before]
    assert len(answered) == 1, "an ignored button press still stops the spinner"
    assert len(reads) == 8

    app.clock.advance(seconds=29)
    assert await app.say(9001, "/status") == []
    app.clock.advance(seconds=2)
    served = await app.say(9001, "/status")
    assert len(served) == 1 and served[0].text.startswith("🔓 Доступ")
    assert len(reads) == 9


@contextmanager
def counted_writes(app: App) -> Iterator[list[str]]:
    """Every INSERT, UPDATE and DELETE the bot sends to the database meanwhile."""
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement.split("\n")[0][:80])

    engine = app.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_a_flood_costs_no_database_write(app: App) -> None:
    await app.say(9002, "/start")
    app.clock.advance(seconds=11)
    with counted_writes(app) as writes:
        served = []
        for _ in range(8):  # THROTTLE_RATE
            app.clock.advance(milliseconds=50)  # each served update refreshes last_seen_at
            served += await app.say(9002, "/help")
        served_writes = len(writes)
        refused = []
        for _ in range(92):
            app.clock.advance(milliseconds=50)
            refused += await app.say(9002, "/help")
    assert len(served) == 8 and WARNING not in [m.text for m in served]
    assert [m.text for m in refused] == [WARNING]
    assert served_writes <= 8, writes
    assert writes[served_writes:] == [], "the 92 throttled updates wrote nothing"


async def test_a_banned_users_update_writes_nothing(app: App) -> None:
    await app.say(9003, "/start")
    await app.services.console.ban(ADMIN_ID, 9003)
    seen_before = (await app.user(9003)).last_seen_at
    app.clock.advance(minutes=5)
    with counted_writes(app) as writes:
        answer = await app.say(9003, "/start")
        pressed = await app.press(9003, answer[0], MenuCD(action=MenuAction.STATUS).pack())
    assert [m.text for m in answer] == ["⛔ Администратор заблокировал вам доступ к этому боту."]
    assert pressed == []
    assert writes == []
    assert (await app.user(9003)).last_seen_at == seen_before


async def test_staff_by_a_role_given_in_the_chat_are_not_throttled(app: App) -> None:
    await app.say(9004, "/start")
    await app.say(ADMIN_ID, "/role 9004 support")
    for _ in range(15):
        answered = await app.say(9004, "/help")
        assert answered and answered[0].text != WARNING


async def test_admins_are_never_throttled(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    for _ in range(15):
        answered = await app.say(ADMIN_ID, "/help")
        assert answered and answered[0].text != WARNING


async def test_idle_users_are_forgotten() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    clock = [now]
    throttle = ThrottleMiddleware(2, 10, 30, clock=lambda: clock[0], max_users=100)
    for user_id in range(500):
        assert throttle._count(user_id) is None
    assert throttle.tracked == 100, "never more than max_users"
    clock[0] += timedelta(seconds=31)
    throttle._count(1)
    assert throttle.tracked == 1, "users idle past the window and the cooldown are dropped"
    assert throttle._count(1) is None
    assert throttle._count(1) is True
    assert throttle._count(1) is False


@pytest.mark.parametrize(
    ("name", "value"),
    [("throttle_rate", "-1"), ("throttle_window", "0"), ("throttle_cooldown", "x")],
)
def test_bad_throttle_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name.upper()):
        load_settings(_env_file=None, bot_token="123456:ABCDEFGHIJ", **{name: value})
