"""/stats: the numbers for a seeded database, a chart that decodes, admins only."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image

from db.models import AccessKind, Device, NodeHealth, NodeStatus, User
from services.stats import NodeStats
from tests.conftest import ADMIN_ID, App


async def _seed(app: App) -> None:
    now = app.clock.now
    nl1 = await app.add_node("nl1")
    de1 = await app.add_node("de1", subnet="10.9.0.1/24")
    await app.say(ADMIN_ID, "/start")  # the admin: a user created now, invited for good
    people = [
        (8001, 40, AccessKind.INVITE, None),
        (8002, 10, AccessKind.INVITE, now - timedelta(days=1)),  # expired
        (8003, 3, AccessKind.TRIAL, now + timedelta(days=2)),
        (8004, 0, AccessKind.NONE, None),
        (8005, 2, AccessKind.INVITE, now + timedelta(days=10)),
    ]
    devices = [
        (8001, nl1.id, "10.8.0.2", now - timedelta(hours=2), 1000, 24, 5000, 120),
        (8005, nl1.id, "10.8.0.3", now - timedelta(days=3), 0, 0, 0, 0),
        (8003, de1.id, "10.9.0.2", now - timedelta(hours=1), 2048, 0, 1 << 20, 0),
    ]
    async with app.services.sessions.begin() as session:
        for user_id, age, kind, until in people:
            session.add(
                User(
                    id=user_id,
                    first_name="U",
                    access_kind=kind,
                    access_until=until,
                    created_at=now - timedelta(days=age, minutes=1),
                    last_seen_at=now,
                )
            )
        await session.flush()
        for user_id, node_id, address, seen, rx_base, rx_seen, tx_base, tx_seen in devices:
            session.add(
                Device(
                    user_id=user_id,
                    node_id=node_id,
                    public_key=f"key-{user_id}",
                    private_key_enc="x",
                    preshared_key_enc="x",
                    address4=address,
                    last_handshake_at=seen,
                    rx_base=rx_base,
                    rx_seen=rx_seen,
                    tx_base=tx_base,
                    tx_seen=tx_seen,
                )
            )
        session.add(NodeHealth(node_id=nl1.id, up=True, peers=2, checked_at=now))
        (await session.get(type(de1), de1.id)).status = NodeStatus.DRAINING


async def test_stats_numbers_for_a_seeded_database(app: App) -> None:
    await _seed(app)
    app.clock.advance(minutes=1)
    stats = await app.services.stats.collect()
    assert stats.users_total == 6
    assert stats.users_new_week == 4  # 8003, 8004, 8005 and the admin
    assert stats.access_now == {AccessKind.INVITE: 3, AccessKind.TRIAL: 1}
    assert stats.handshakes_day == 2
    assert stats.nodes == [
        NodeStats("de1", NodeStatus.DRAINING, None, None, 1, 2048, 1 << 20, 1),
        NodeStats("nl1", NodeStatus.ENABLED, True, 2, 2, 1024, 5120, 1),
    ]
    days = dict(stats.new_per_day)
    assert len(stats.new_per_day) == 30
    assert stats.new_per_day[-1][0] == date(2026, 11, 23)
    assert stats.new_per_day[0][0] == date(2026, 10, 25)
    assert {day: count for day, count in days.items() if count} == {
        date(2026, 11, 13): 1,
        date(2026, 11, 20): 1,
        date(2026, 11, 21): 1,
        date(2026, 11, 23): 2,
    }

    app.clock.advance(days=1)  # a day later: the handshakes are old, 8003's trial still runs
    later = await app.services.stats.collect()
    assert later.handshakes_day == 0
    assert later.access_now == {AccessKind.INVITE: 3, AccessKind.TRIAL: 1}
    app.clock.advance(days=2)
    assert (await app.services.stats.collect()).access_now == {AccessKind.INVITE: 3}


async def test_stats_command_sends_a_chart_with_the_numbers(app: App) -> None:
    await _seed(app)
    sent = await app.say(ADMIN_ID, "/stats")
    assert len(sent) == 1 and sent[0].photo is not None
    text = sent[0].text
    assert "👥 Пользователей: 6 · новых за 7 дней: 4" in text
    assert "🔓 С доступом сейчас: 4" in text
    assert "• по приглашению: 3" in text and "• пробный период: 1" in text
    assert "оплачен" not in text and "₽" not in text, "no payments: no revenue lines"
    assert "🤝 Подключались за сутки: 2 устр." in text
    assert "🟢 nl1 · пиров: 2 · устройств: 2 · за сутки: 1 · ↓ 5 КБ · ↑ 1 КБ" in text
    assert "⚪ de1 (выводится) · ещё не проверялся · устройств: 1" in text
    with Image.open(io.BytesIO(sent[0].photo.content)) as image:
        assert image.format == "PNG"
        assert 800 <= image.width <= 2000 and 400 <= image.height <= 1200


async def test_stats_in_english_and_refused_to_others(app: App) -> None:
    sent = await app.say(ADMIN_ID, "/stats", language="en")
    assert sent[0].photo is not None
    assert "👥 Users: 1 · new in 7 days: 1" in sent[0].text
    refused = await app.say(8100, "/stats")
    assert [m.text for m in refused] == ["Эта команда только для администраторов."]
