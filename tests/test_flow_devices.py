"""Several devices per user: the /devices menu through the real Dispatcher, SQLite and fake nodes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from db.models import AccessKind, Device, User
from nodes import PeerState
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import Sent
from tests.test_flow_user import parse_conf

USER = 3001
OTHER = 3002


async def say(app: App, user_id: int, text: str, language: str = "ru") -> list[Sent]:
    """As the user, two seconds after the last update (below the per-user throttle)."""
    app.clock.advance(seconds=2)
    return await app.say(user_id, text, language)


async def press(app: App, user_id: int, message: Sent, data: str) -> list[Sent]:
    app.clock.advance(seconds=2)
    return await app.press(user_id, message, data)


async def grant(app: App, user_id: int = USER, days: int | None = None) -> None:
    await app.services.users.grant(user_id, days, create=True)


async def devices_of(app: App, user_id: int = USER) -> list[Device]:
    return [device for device in await app.devices() if device.user_id == user_id]


async def open_list(app: App, user_id: int = USER, language: str = "ru") -> Sent:
    sent = await say(app, user_id, "/devices", language=language)
    assert len(sent) == 1
    return sent[0]


async def add_device(app: App, user_id: int = USER) -> tuple[Sent, str]:
    """Press "Add device" on a fresh list; the edited screen and the config that came."""
    screen = await open_list(app, user_id)
    sent = await press(app, user_id, screen, screen.button("Добавить")["callback_data"])
    assert [message.method for message in sent] == ["sendDocument", "sendPhoto"]
    assert sent[0].document is not None
    return screen, sent[0].document.content.decode()


async def device_screen(app: App, number: int, user_id: int = USER) -> Sent:
    screen = await open_list(app, user_id)
    await press(app, user_id, screen, screen.buttons[number - 1]["callback_data"])
    return screen


async def test_second_device_gets_its_own_peer_config_and_place_in_the_list(app: App) -> None:
    node = await app.add_node("nl1", "Amsterdam")
    await grant(app)
    first = (await say(app, USER, "/get_config"))[0].document.content.decode()

    screen, second = await add_device(app)
    assert "Устройство добавлено" in (screen.text or "")
    assert "Устройство 2" in (screen.text or "")
    first_conf, second_conf = parse_conf(first), parse_conf(second)
    assert second_conf["Interface"]["Address"] == "10.8.0.3/32"
    assert second_conf["Interface"]["PrivateKey"] != first_conf["Interface"]["PrivateKey"]
    assert second_conf["Peer"]["PresharedKey"] != first_conf["Peer"]["PresharedKey"]
    assert second_conf["Peer"]["PublicKey"] == node.public_key

    rows = await devices_of(app)
    assert [(row.name, row.address4) for row in rows] == [("", "10.8.0.2"), ("", "10.8.0.3")]
    peers = app.wireguard.nodes["nl1"].peers
    assert set(peers) == {row.public_key for row in rows}
    assert peers[rows[1].public_key].preshared_key == second_conf["Peer"]["PresharedKey"]

    listing = await open_list(app)
    text = listing.text or ""
    assert "Ваши устройства: 2 из 2" in text
    assert "1. Устройство 1 · nl1 · Amsterdam" in text
    assert "2. Устройство 2 · nl1 · Amsterdam" in text
    assert "ещё не подключалось" in text
    labels = [button["text"] for button in listing.buttons]
    assert labels == ["📱 Устройство 1", "📱 Устройство 2"], "no Add button at the limit"

    again = (await say(app, USER, "/get_config"))[0].document.content.decode()
    assert again == first, "/get_config still sends the first device"

    english = await open_list(app, language="en")
    assert "Your devices: 2 of 2" in (english.text or "")


async def test_list_shows_handshake_and_traffic_as_the_latest_probe_read_them(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await say(app, USER, "/get_config")
    device = (await devices_of(app))[0]
    app.wireguard.nodes["nl1"].handshakes[device.public_key] = PeerState(
        device.public_key,
        None,
        ("10.8.0.2/32",),
        app.clock() - timedelta(seconds=10),  # open_list moves the clock 2 s
        84 * 1024,
        3 * 1024 * 1024,
    )
    before = (await open_list(app)).text or ""
    assert "ещё не подключалось" in before and "Сведения от сервера" not in before, "no probe yet"
    await app.services.health.probe_all()
    app.clock.advance(seconds=5)  # the list is read 7 s after the probe, the node is not asked
    app.wireguard.nodes["nl1"].handshakes.clear()
    text = (await open_list(app)).text or ""
    assert "🤝 19 с назад · 📶 ↓ 3 МБ · ↑ 84 КБ" in text
    assert text.endswith("🕒 Сведения от сервера 7 с назад")
    app.wireguard.nodes["nl1"].up = False
    await app.services.health.probe_all()
    assert "сервер сейчас не отвечает" in ((await open_list(app)).text or "")


async def test_no_tap_reads_the_node(app: App) -> None:
    """/status, /devices, a device, /users and the card show the stored probe: the node is
    not asked, so a tap costs the same on a node of 10 peers or of 10,000."""
    await app.add_node("nl1")
    await grant(app)
    await say(app, USER, "/get_config")
    await say(app, ADMIN_ID, "/start")
    await app.services.health.probe_all()
    asked: list[str] = []
    for name in ("peers", "probe", "interface"):
        original = getattr(app.wireguard, name)

        async def counted(target: Any, *args: Any, _name: str = name, _call: Any = original) -> Any:
            asked.append(_name)
            return await _call(target, *args)

        setattr(app.wireguard, name, counted)

    status = (await say(app, USER, "/status"))[0].text or ""
    assert "Сведения от сервера" in status
    await device_screen(app, 1)
    users = (await say(app, ADMIN_ID, "/users"))[0].text or ""
    card = (await say(app, ADMIN_ID, f"/user {USER}"))[0].text or ""
    assert "Сведения от сервера" in users and "Сведения от сервера" in card
    assert asked == []


async def test_the_main_menu_opens_the_list_and_add_refuses_at_the_limit(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    menu = (await say(app, USER, "/start"))[0]
    sent = await press(app, USER, menu, menu.button("Устройства")["callback_data"])
    assert len(sent) == 1 and "Ваши устройства: 0 из 2" in (sent[0].text or "")
    await add_device(app)
    await add_device(app)
    log_before = list(app.wireguard.log)

    forged = await press(app, USER, sent[0], "dv:add:0")
    assert [message.text for message in forged] == [
        "Больше устройств добавить нельзя: у вас 2 из 2. "
        "Удалите одно в /devices, чтобы добавить новое."
    ]
    assert len(await devices_of(app)) == 2
    assert len(app.wireguard.nodes["nl1"].peers) == 2
    assert app.wireguard.log == log_before, "no peer was added or removed"


async def test_limit_follows_the_plan_and_admins_and_a_lowered_limit_keeps_devices(
    app: App,
) -> None:
    await app.add_node("nl1")
    await grant(app)
    await say(app, ADMIN_ID, "/start")
    service = app.services.devices
    user, admin = await app.user(USER), await app.user(ADMIN_ID)
    assert user is not None and admin is not None
    assert service.device_limit(user) == 2 == app.settings.device_limit
    assert service.device_limit(admin) == 20

    async def set_access(kind: AccessKind, plan: str | None) -> None:
        async with app.services.sessions.begin() as session:
            await session.execute(
                update(User).where(User.id == USER).values(access_kind=kind, plan_code=plan)
            )

    await set_access(AccessKind.PAID, "1m")
    paid = await app.user(USER)
    assert paid is not None and service.device_limit(paid) == 3
    await set_access(AccessKind.PAID, "gone")
    unknown_plan = await app.user(USER)
    assert unknown_plan is not None and service.device_limit(unknown_plan) == 2

    await set_access(AccessKind.PAID, "1m")
    for _ in range(3):
        await add_device(app)
    await set_access(AccessKind.INVITE, None)
    listing = await open_list(app)
    assert "Ваши устройства: 3 из 2" in (listing.text or "")
    assert "удалите одно" in (listing.text or "")
    assert all("Добавить" not in button["text"] for button in listing.buttons)
    await app.services.reconcile.reconcile_user(USER)
    assert len(app.wireguard.nodes["nl1"].peers) == 3, "devices over a lowered limit keep working"


async def test_rename_takes_a_good_name_and_refuses_bad_ones(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await add_device(app)
    screen = await device_screen(app, 1)

    prompt = await press(app, USER, screen, screen.button("Переименовать")["callback_data"])
    assert prompt == [] and "Пришлите новое имя" in (screen.text or ""), "edited in place"
    for bad in ("   ", "x" * 33, "bad\x07name", "evil\u202ename"):
        answer = await say(app, USER, bad)
        assert [message.text for message in answer] == [
            "Имя должно быть от 1 до 32 символов, без служебных символов. "
            "Пришлите другое или /cancel."
        ], bad
        assert (await devices_of(app))[0].name == ""

    done = await say(app, USER, "  Мой iPhone <3  ")
    assert len(done) == 1
    assert "Имя сохранено" in (done[0].text or "")
    assert "Мой iPhone &lt;3" not in (done[0].text or ""), "shown as text, not HTML source"
    assert "📱 Мой iPhone <3" in (done[0].text or "")
    assert (await devices_of(app))[0].name == "Мой iPhone <3"
    assert "1. Мой iPhone <3 · nl1" in ((await open_list(app)).text or "")

    stray = await say(app, USER, "Другое имя")
    assert "Не понял" in (stray[0].text or ""), "the state ended with the rename"

    screen = await device_screen(app, 1)
    await press(app, USER, screen, screen.button("Переименовать")["callback_data"])
    assert [m.text for m in await say(app, USER, "/cancel")] == ["Отменено, имя осталось прежним."]
    await say(app, USER, "Не то")
    assert (await devices_of(app))[0].name == "Мой iPhone <3"

    screen = await device_screen(app, 1)
    await press(app, USER, screen, screen.button("Переименовать")["callback_data"])
    status = await say(app, USER, "/status")
    assert "Доступ" in (status[0].text or ""), "any command leaves the rename and runs"
    await say(app, USER, "Не то")
    emoji = "👨‍💻 Работа"
    screen = await device_screen(app, 1)
    await press(app, USER, screen, screen.button("Переименовать")["callback_data"])
    await say(app, USER, emoji)
    assert (await devices_of(app))[0].name == emoji, "an emoji joiner is allowed"


async def test_remove_asks_first_then_deletes_the_row_and_the_peer(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await add_device(app)
    await add_device(app)
    first, second = await devices_of(app)

    screen = await device_screen(app, 2)
    await press(app, USER, screen, screen.button("Удалить")["callback_data"])
    assert "Удалить «Устройство 2»?" in (screen.text or "")
    await press(app, USER, screen, screen.button("Отмена")["callback_data"])
    assert len(await devices_of(app)) == 2
    assert "Устройство 2" in (screen.text or "") and "Сервер: nl1" in (screen.text or "")

    await press(app, USER, screen, screen.button("Удалить")["callback_data"])
    await press(app, USER, screen, screen.button("Да, удалить")["callback_data"])
    assert "«Устройство 2» удалено, его конфигурация больше не работает." in (screen.text or "")
    assert "Ваши устройства: 1 из 2" in (screen.text or "")
    assert [row.id for row in await devices_of(app)] == [first.id]
    assert list(app.wireguard.nodes["nl1"].peers) == [first.public_key]
    assert ("nl1", "remove", second.public_key) in app.wireguard.log

    again = await press(app, USER, screen, f"dv:rmok:{second.id}")
    assert [message.text for message in again] == [
        "Такого устройства у вас нет. Откройте список заново: /devices"
    ]


async def test_remove_while_the_node_is_down_leaves_the_peer_to_reconcile(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await add_device(app)
    device = (await devices_of(app))[0]
    screen = await device_screen(app, 1)
    await press(app, USER, screen, screen.button("Удалить")["callback_data"])
    app.wireguard.nodes["nl1"].up = False
    await press(app, USER, screen, screen.button("Да, удалить")["callback_data"])
    assert "Сервер nl1 сейчас не отвечает" in (screen.text or "")
    assert await devices_of(app) == []
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key]

    app.wireguard.nodes["nl1"].up = True
    await app.services.reconcile.reconcile_named("nl1")
    assert app.wireguard.nodes["nl1"].peers == {}


async def test_another_users_device_is_not_found_and_nothing_changes(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await grant(app, OTHER)
    await add_device(app)
    await say(app, OTHER, "/get_config")
    victim = (await devices_of(app))[0]
    own = await open_list(app, OTHER)
    log_before = list(app.wireguard.log)

    not_found = "Такого устройства у вас нет. Откройте список заново: /devices"
    for action in ("show", "cfg", "ren", "rt", "rm", "rmok"):
        sent = await press(app, OTHER, own, f"dv:{action}:{victim.id}")
        assert [message.text for message in sent] == [not_found], action
    for data in (f"dr:{victim.id}:", "dv:show:999", "dv:show:99999999999999999999"):
        sent = await press(app, OTHER, own, data)
        assert [message.text for message in sent] == [not_found], data
    stray = await say(app, OTHER, "Чужое имя")
    assert (stray[0].text or "").startswith("Не понял"), "a refused rename sets no state"

    after = (await devices_of(app))[0]
    assert (after.name, after.public_key, after.route_preset) == ("", victim.public_key, "")
    assert victim.public_key in app.wireguard.nodes["nl1"].peers
    assert app.wireguard.log == log_before
    assert all(message.method != "sendDocument" for message in app.telegram.sent_to(OTHER)[1:])

    junk = await press(app, OTHER, own, "dv:explode:1")
    assert junk == [], "an unknown action is a stale button, answered with an alert"


async def test_users_without_access_get_the_no_access_answer(app: App) -> None:
    await app.add_node("nl1")
    sent = await say(app, USER, "/devices")
    assert [message.text for message in sent] == [
        "У вас нет доступа. Попросите администратора — /start отправит ему заявку."
    ]
    assert await app.devices() == []


async def test_server_moves_every_device_and_sends_each_config(app: App) -> None:
    await app.add_node("nl1", "Amsterdam", subnet="10.9.0.1/24")
    await app.add_node("de1", "Frankfurt")
    await grant(app)
    await add_device(app)
    await add_device(app)
    before = await devices_of(app)
    assert {row.node_id for row in before} == {before[0].node_id}
    assert len(app.wireguard.nodes["de1"].peers) == 2

    screen = (await say(app, USER, "/server"))[0]
    sent = await press(app, USER, screen, screen.button("nl1")["callback_data"])
    assert [message.method for message in sent] == [
        "sendMessage",
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendMessage",
        "sendDocument",
        "sendPhoto",
    ]
    assert "Готово: вы на сервере nl1." in (sent[0].text or "")
    assert (sent[1].text, sent[4].text) == ("📱 Устройство 1:", "📱 Устройство 2:")
    addresses = [
        parse_conf(message.document.content.decode())["Interface"]["Address"]
        for message in sent
        if message.document is not None
    ]
    assert addresses == ["10.9.0.2/32", "10.9.0.3/32"]

    after = await devices_of(app)
    assert [row.public_key for row in after] == [row.public_key for row in before]
    assert [row.address4 for row in after] == ["10.9.0.2", "10.9.0.3"]
    assert app.wireguard.nodes["de1"].peers == {}
    assert set(app.wireguard.nodes["nl1"].peers) == {row.public_key for row in after}


async def test_a_move_that_fits_only_some_devices_puts_them_all_back(app: App) -> None:
    await app.add_node("de1")
    await app.add_node("nl1", subnet="10.9.0.1/30")  # room for one device only
    await grant(app)
    await add_device(app)
    await add_device(app)
    before = await devices_of(app)
    assert len(app.wireguard.nodes["de1"].peers) == 2

    screen = (await say(app, USER, "/server"))[0]
    sent = await press(app, USER, screen, screen.button("nl1")["callback_data"])
    assert [message.text for message in sent] == [
        "На сервере nl1 нет свободных мест. Выберите другой:"
    ]
    after = await devices_of(app)
    assert [(row.node_id, row.address4) for row in after] == [
        (row.node_id, row.address4) for row in before
    ]
    assert set(app.wireguard.nodes["de1"].peers) == {row.public_key for row in before}
    assert app.wireguard.nodes["nl1"].peers == {}


async def test_expiry_removes_the_peers_and_renewal_brings_back_the_same_ones(app: App) -> None:
    await app.add_node("nl1")
    await grant(app, days=30)
    await add_device(app)
    _, second_config = await add_device(app)
    rows = await devices_of(app)
    peers_before = dict(app.wireguard.nodes["nl1"].peers)
    assert set(peers_before) == {row.public_key for row in rows}

    app.clock.advance(days=31)  # access ended a day ago: in grace, the peers only limited
    await app.services.reconcile.reconcile_user(USER)
    assert app.wireguard.nodes["nl1"].peers == peers_before
    assert app.wireguard.nodes["nl1"].in_grace == {row.address4 for row in rows}
    app.clock.advance(days=3)  # and grace is over
    await app.services.reconcile.reconcile_user(USER)
    assert app.wireguard.nodes["nl1"].peers == {}
    assert app.wireguard.nodes["nl1"].in_grace == set()
    assert [row.id for row in await devices_of(app)] == [row.id for row in rows]
    assert "нет доступа" in ((await say(app, USER, "/devices"))[0].text or "")

    await grant(app, days=30)
    await app.services.reconcile.reconcile_user(USER)
    assert app.wireguard.nodes["nl1"].peers == peers_before
    config = (await app.services.devices.config(USER, rows[1].id)).config
    assert config.text == second_config, "the imported config works again unchanged"


async def test_routes_change_only_the_config_and_unknown_presets_are_refused(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await add_device(app)
    device = (await devices_of(app))[0]
    peer_before = app.wireguard.nodes["nl1"].peers[device.public_key]
    screen = await device_screen(app, 1)
    assert "🧭 Маршруты: 🌐 Весь трафик" in (screen.text or "")

    await press(app, USER, screen, screen.button("Маршруты")["callback_data"])
    labels = [button["text"] for button in screen.buttons]
    assert labels[0] == "✅ 🌐 Весь трафик"
    assert "Только Telegram" in labels and labels[-1] == "◀️ Назад"
    sent = await press(app, USER, screen, screen.button("Только Telegram")["callback_data"])
    assert [message.method for message in sent] == ["sendDocument", "sendPhoto"]
    allowed = parse_conf(sent[0].document.content.decode())["Peer"]["AllowedIPs"].split(", ")
    assert "0.0.0.0/0" not in allowed
    assert {"1.1.1.1/32", "1.0.0.1/32", "91.108.4.0/22"} <= set(allowed)
    assert "Маршруты изменены" in (screen.text or "")
    assert "🧭 Маршруты: Только Telegram" in (screen.text or "")
    assert (await devices_of(app))[0].route_preset == "telegram"
    assert app.wireguard.nodes["nl1"].peers[device.public_key] == peer_before

    refused = await press(app, USER, screen, f"dr:{device.id}:nope")
    assert [message.text for message in refused] == [
        "Такого набора маршрутов нет. Откройте /devices и выберите из списка."
    ]
    assert (await devices_of(app))[0].route_preset == "telegram"

    await press(app, USER, screen, screen.button("Маршруты")["callback_data"])
    assert "✅ Только Telegram" in [button["text"] for button in screen.buttons]
    sent = await press(app, USER, screen, screen.button("Весь трафик")["callback_data"])
    conf = parse_conf(sent[0].document.content.decode())
    assert conf["Peer"]["AllowedIPs"] == "0.0.0.0/0, ::/0"
    assert (await devices_of(app))[0].route_preset == ""


async def test_new_keys_for_one_device_leave_the_others_alone(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    await add_device(app)
    await add_device(app)
    first, second = await devices_of(app)

    screen = await device_screen(app, 2)
    await press(app, USER, screen, screen.button("Новые ключи")["callback_data"])
    assert "Создать новые ключи для «Устройство 2»?" in (screen.text or "")
    await press(app, USER, screen, screen.button("Отмена")["callback_data"])
    assert [d.public_key for d in await devices_of(app)] == [first.public_key, second.public_key]

    await press(app, USER, screen, screen.button("Новые ключи")["callback_data"])
    sent = await press(app, USER, screen, screen.button("Да, новые ключи")["callback_data"])
    assert "Новые ключи готовы" in (screen.text or "")
    config = next(m for m in sent if m.document).document.content.decode()
    after = await devices_of(app)
    assert after[0].public_key == first.public_key
    assert after[1].id == second.id and after[1].public_key != second.public_key
    assert set(app.wireguard.nodes["nl1"].peers) == {first.public_key, after[1].public_key}
    assert (await app.services.devices.config(USER, second.id)).config.text == config  # the new one

    other = USER + 1
    await grant(app, other)
    (hello,) = await say(app, other, "/start")
    forged = await press(app, other, hello, f"dv:keyok:{first.id}")
    assert [message.text for message in forged] == [
        "Такого устройства у вас нет. Откройте список заново: /devices"
    ]
    assert (await devices_of(app))[0].public_key == first.public_key


SETUP_CHOOSE = "📲 Пошаговая настройка — выберите ваше устройство:"


async def test_the_same_config_goes_again_by_file_id_and_new_keys_as_new_files(app: App) -> None:
    """A config sent before is sent again by Telegram's file_ids (no QR drawn, nothing
    uploaded); new keys make a new config, sent as new files."""
    await app.add_node("nl1")
    await grant(app)

    def file_ids(sent: list[Sent]) -> tuple[str, str]:
        assert [message.method for message in sent] == ["sendDocument", "sendPhoto"]
        return sent[0].message["document"]["file_id"], sent[1].message["photo"][-1]["file_id"]

    first = await say(app, USER, "/get_config")
    again = await say(app, USER, "/get_config")
    assert file_ids(again) == file_ids(first)
    assert again[0].document is not None and first[0].document is not None
    assert again[0].document.content == first[0].document.content
    assert again[0].text == first[0].text, "same caption"
    assert again[1].text and first[1].text == f"{again[1].text}\n{SETUP_CHOOSE}", (
        "the first config alone offers the set-up steps"
    )

    (device,) = await devices_of(app)
    await app.services.devices.rekey(USER, device.id)
    renewed = await say(app, USER, "/get_config")
    assert set(file_ids(renewed)).isdisjoint(file_ids(first))
    assert renewed[0].document is not None
    assert renewed[0].document.content != first[0].document.content
