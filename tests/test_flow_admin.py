"""The admin's chat: granting access, the user list in pages, nodes, alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from db.models import AccessKind, Device
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram


async def test_add_user_with_days_grants_and_tells_the_user(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    await app.say(4001, "/start")
    answer = await app.say(ADMIN_ID, "/add_user 4001 30")
    assert answer[-1].text.startswith("✅ Test (id 4001): доступ до 23.12.2026 12:00 UTC.")
    assert "Пользователь уведомлён." in answer[-1].text
    user = await app.user(4001)
    assert user.access_kind is AccessKind.INVITE
    assert user.access_until == app.clock.now.replace(day=23, month=12)
    told = app.telegram.sent_to(4001)[-1]
    assert (
        told.text
        == "🎉 Вам открыли доступ до 23.12.2026 12:00 UTC. Нажмите «Получить конфигурацию»."
    )

    await app.say(ADMIN_ID, "/add_user 4001 10")
    extended = await app.user(4001)
    assert (extended.access_until - user.access_until).days == 10, "days add to the current end"


async def test_users_list_pages_with_node_and_handshake(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    for index in range(12):
        await app.services.users.grant(5000 + index, None, create=True)
        app.clock.advance(seconds=1)
    await app.say(5011, "/get_config")

    first = (await app.say(ADMIN_ID, "/users"))[0]
    lines = first.text.splitlines()
    assert lines[0] == "👥 Пользователи 1–10 из 13"
    assert lines[1] == "5011 Test · бессрочно · nl1 · не подключался"
    assert "5010 5010 · бессрочно · без устройства" in lines[2]
    texts = [button["text"] for button in first.buttons]
    assert texts[-1] == "Вперёд ▶️" and "◀️ Назад" not in texts, "filters and cards come first"

    await app.press(ADMIN_ID, first, first.button("Вперёд")["callback_data"])
    second = app.telegram.sent_to(ADMIN_ID)[-1]
    assert second.message_id == first.message_id, "the page is edited in place"
    assert second.text.splitlines()[0] == "👥 Пользователи 11–13 из 13"
    assert str(ADMIN_ID) in second.text
    texts = [button["text"] for button in second.buttons]
    assert texts[-1] == "◀️ Назад" and "Вперёд ▶️" not in texts


async def test_users_list_pages_over_users_whatever_their_devices(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    """25 users with 0, 1 and 3 devices, the ones with 3 on page boundaries: 10 users a page,
    one line each, every user exactly once."""
    app = await open_app(tmp_path, telegram, database_url, device_limit=3)
    try:
        await app.add_node("nl1")
        await app.say(ADMIN_ID, "/start")
        devices_of = {}
        for index in range(25):
            app.clock.advance(seconds=1)
            user_id = 5400 + index
            await app.services.users.grant(user_id, None, create=True)
            devices_of[user_id] = 3 if index in (4, 5, 14, 15, 24) else index % 2
            for _ in range(devices_of[user_id]):
                await app.services.devices.add(user_id)
        newest_first = [5400 + index for index in reversed(range(25))] + [ADMIN_ID]

        listing = (await app.say(ADMIN_ID, "/users"))[0]
        shown: list[list[str]] = []
        for _ in range(3):
            shown.append(listing.text.splitlines())
            if "Вперёд ▶️" in [button["text"] for button in listing.buttons]:
                await app.press(ADMIN_ID, listing, listing.button("Вперёд")["callback_data"])
        headers = [page[0] for page in shown]
        assert headers == [
            f"👥 Пользователи {a}–{b} из 26" for a, b in ((1, 10), (11, 20), (21, 26))
        ]
        lines = [line for page in shown for line in page[1:]]
        assert [int(line.split()[0]) for line in lines] == newest_first
        by_id = {int(line.split()[0]): line for line in lines}
        assert by_id[5424] == "5424 5424 · бессрочно · 3 устройства: nl1 · не подключался"
        assert by_id[5423] == "5423 5423 · бессрочно · nl1 · не подключался"
        assert by_id[5422] == "5422 5422 · бессрочно · без устройства"
        cards = [b["text"] for b in listing.buttons if b["text"].startswith("👤")]
        assert cards == [f"👤 {user_id}" for user_id in newest_first[20:]]
        assert sum(devices_of.values()) == len(await app.devices())
    finally:
        await app.close()


async def test_users_list_marks_unreachable_nodes(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(5100, None, create=True)
    await app.say(5100, "/get_config")
    app.wireguard.nodes["nl1"].up = False
    await app.services.health.probe_all()  # /users shows what the last probe read
    page = (await app.say(ADMIN_ID, "/users"))[0]
    assert "5100 Test · бессрочно · nl1 · ?" in page.text


async def test_nodes_shows_reachability_peers_and_load(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.add_node("de1", "Frankfurt", subnet="10.9.0.1/24")
    await app.services.users.grant(5200, None, create=True)
    await app.say(5200, "/get_config")
    app.wireguard.nodes["nl1"].up = False
    text = (await app.say(ADMIN_ID, "/nodes"))[0].text
    assert (
        "🟢 de1 Frankfurt · de1.example:51820\nустройств: 1 · пиров на сервере: 1 · нагрузка: 0.50 на 2 CPU"
        in text
    )
    assert (
        "🔴 nl1 Amsterdam · nl1.example:51820\nустройств: 0 · недоступен: connection refused"
        in text
    )


async def test_full_subnet_tells_the_user_and_alerts_admins_once_an_hour(app: App) -> None:
    await app.add_node("tiny", subnet="10.8.0.1/30")  # room for one device
    await app.say(ADMIN_ID, "/start")
    for user_id in (5301, 5302, 5303, 5304):
        await app.services.users.grant(user_id, None, create=True)
    await app.say(5301, "/get_config")
    alert = (
        "⚠️ На сервере tiny закончились адреса: новый пользователь не смог получить конфигурацию."
    )
    refusal = "Свободных мест на серверах сейчас нет. Администраторы уже знают — попробуйте позже."

    def alerts() -> int:
        return sum(1 for message in app.telegram.sent_to(ADMIN_ID) if message.text == alert)

    assert [message.text for message in await app.say(5302, "/get_config")] == [refusal]
    assert alerts() == 1
    assert [message.text for message in await app.say(5303, "/get_config")] == [refusal]
    assert alerts() == 1, "one alert per node per hour, not one per refused user"
    app.clock.advance(minutes=61)
    await app.say(5304, "/get_config")
    assert alerts() == 2
    assert [device.user_id for device in await app.devices()] == [5301]


async def test_concurrent_users_get_distinct_addresses(app: App) -> None:
    await app.add_node("nl1")
    users = list(range(6000, 6030))
    for user_id in users:
        await app.services.users.grant(user_id, None, create=True)
        app.telegram.user(user_id)
    await asyncio.gather(*(app.say(user_id, "/get_config") for user_id in users))
    devices = await app.devices()
    assert len(devices) == len(users)
    assert len({device.address4 for device in devices}) == len(users)
    assert len(app.wireguard.nodes["nl1"].peers) == len(users)


async def test_double_tap_get_config_makes_one_device(app: App) -> None:
    await app.add_node("nl1")
    await app.services.users.grant(6100, None, create=True)
    await asyncio.gather(*(app.say(6100, "/get_config") for _ in range(5)))
    assert await app.count(Device) == 1
