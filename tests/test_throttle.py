"""Throttling: a flood gets one warning and spares the nodes; the user is served after a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.settings import SettingsError, load_settings
from bot.throttle import ThrottleMiddleware
from keyboards.callbacks import MenuAction, MenuCD
from tests.conftest import ADMIN_ID, App

WARNING = "⏳ Слишком много запросов. Подождите 30 с и попробуйте снова."


def _count_peer_reads(app: App) -> list[str]:
    reads: list[str] = []
    original = app.wireguard.peers

    async def peers(target: Any) -> Any:
        reads.append(target.name)
        return await original(target)

    app.wireguard.peers = peers  # type: ignore[method-assign]
    return reads


async def test_a_flood_gets_one_warning_and_spares_the_node(app: App) -> None:
    await app.add_node("nl1")
    await app.services.users.grant(9001, None, create=True)
    await app.say(9001, "/get_config")
    app.clock.advance(seconds=11)
    reads = _count_peer_reads(app)

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
