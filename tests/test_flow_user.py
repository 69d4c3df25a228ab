"""A user's chat through the real Dispatcher, a real SQLite file and the fake Bot API."""

from __future__ import annotations

import configparser

from db.models import AccessKind, Device
from tests.conftest import ADMIN_ID, App

USER = 2001


def parse_conf(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


async def grant(app: App, user_id: int = USER) -> None:
    await app.services.users.grant(user_id, None, create=True)


async def test_start_without_access_asks_admin_who_grants_with_one_tap(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    answer = await app.say(USER, "/start")
    assert len(answer) == 1
    assert "нет доступа" in answer[0].text

    request = app.telegram.sent_to(ADMIN_ID)[-1]
    assert str(USER) in request.text
    buttons = [b["text"] for row in request.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["✅ 30 дней", "✅ Без срока"]

    again = await app.say(USER, "/start")
    assert "уже у администратора" in again[0].text
    assert len(app.telegram.sent_to(ADMIN_ID)) == 2, "a second /start must not spam the admins"

    await app.press(
        ADMIN_ID, request, request.reply_markup["inline_keyboard"][0][1]["callback_data"]
    )
    user = await app.user(USER)
    assert user is not None and user.access_kind is AccessKind.INVITE and user.access_until is None
    told = app.telegram.sent_to(USER)[-1]
    assert "открыли доступ без ограничения" in told.text

    menu = await app.say(USER, "/start")
    labels = [b["text"] for row in menu[0].reply_markup["inline_keyboard"] for b in row]
    assert "📥 Получить конфигурацию" in labels


async def test_get_config_sends_file_and_qr_and_adds_the_peer(app: App) -> None:
    node = await app.add_node("nl1", "Amsterdam", v6="fd00:8::1/64")
    await grant(app)
    sent = await app.say(USER, "/get_config")
    assert [message.method for message in sent] == ["sendDocument", "sendPhoto"]
    document = sent[0].document
    assert document.filename == "nl1.conf"
    text = document.content.decode()
    conf = parse_conf(text)
    assert conf["Interface"]["Address"] == "10.8.0.2/32, fd00:8::2/128"
    assert conf["Interface"]["DNS"] == "1.1.1.1, 1.0.0.1"
    assert conf["Interface"]["MTU"] == "1420"
    assert conf["Peer"]["PublicKey"] == node.public_key
    assert conf["Peer"]["Endpoint"] == "nl1.example:51820"
    assert conf["Peer"]["AllowedIPs"] == "0.0.0.0/0, ::/0"
    assert conf["Peer"]["PersistentKeepalive"] == "25"
    assert "#" not in text

    devices = await app.devices()
    assert len(devices) == 1
    private_key = conf["Interface"]["PrivateKey"]
    assert private_key not in devices[0].private_key_enc
    assert conf["Peer"]["PresharedKey"] not in devices[0].preshared_key_enc
    peers = app.wireguard.nodes["nl1"].peers
    assert list(peers) == [devices[0].public_key]
    assert peers[devices[0].public_key].allowed_ips == ("10.8.0.2/32", "fd00:8::2/128")
    assert peers[devices[0].public_key].preshared_key == conf["Peer"]["PresharedKey"]

    again = await app.say(USER, "/get_config")
    assert again[0].document.content.decode() == text, "the same device is sent again"
    assert await app.count(Device) == 1


async def test_second_user_gets_the_next_address(app: App) -> None:
    await app.add_node("nl1")
    await grant(app, USER)
    await grant(app, USER + 1)
    await app.say(USER, "/get_config")
    sent = await app.say(USER + 1, "/get_config")
    assert parse_conf(sent[0].document.content.decode())["Interface"]["Address"] == "10.8.0.3/32"


async def test_regen_replaces_the_peer_after_confirmation(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    first = (await app.say(USER, "/get_config"))[0].document.content.decode()
    old_key = (await app.devices())[0].public_key

    question = await app.say(USER, "/regen")
    cancel = question[0].reply_markup["inline_keyboard"][0][1]["callback_data"]
    await app.press(USER, question[0], cancel)
    assert (await app.devices())[0].public_key == old_key

    question = await app.say(USER, "/regen")
    confirm = question[0].reply_markup["inline_keyboard"][0][0]["callback_data"]
    sent = await app.press(USER, question[0], confirm)
    documents = [message for message in sent if message.method == "sendDocument"]
    assert len(documents) == 1
    second = documents[0].document.content.decode()
    assert (
        parse_conf(second)["Interface"]["PrivateKey"]
        != parse_conf(first)["Interface"]["PrivateKey"]
    )
    assert parse_conf(second)["Interface"]["Address"] == parse_conf(first)["Interface"]["Address"]
    new_key = (await app.devices())[0].public_key
    assert new_key != old_key
    assert list(app.wireguard.nodes["nl1"].peers) == [new_key]
    removed = app.wireguard.log.index(("nl1", "remove", old_key))
    assert removed < app.wireguard.log.index(("nl1", "add", new_key))


async def test_server_lists_nodes_and_moves_the_device(app: App) -> None:
    await app.add_node("nl1", "Amsterdam", subnet="10.9.0.1/24")
    await app.add_node("de1", "Frankfurt")
    await grant(app)
    await app.say(USER, "/get_config")
    on_first = (await app.devices())[0]
    assert list(app.wireguard.nodes["de1"].peers) == [on_first.public_key], "least loaded, by name"

    screen = (await app.say(USER, "/server"))[0]
    assert screen.text.startswith("Сейчас ваш сервер: de1 · Frankfurt.")
    labels = [b["text"] for row in screen.reply_markup["inline_keyboard"] for b in row]
    assert labels == ["nl1 · Amsterdam (0)", "✅ de1 · Frankfurt (1)", "🎮 Сервер для игры"]
    sent = await app.press(USER, screen, screen.button("nl1")["callback_data"])
    assert "Готово: вы на сервере nl1." in sent[0].text
    document = next(message for message in sent if message.method == "sendDocument")
    assert document.document.filename == "nl1.conf"
    conf = parse_conf(document.document.content.decode())
    assert conf["Interface"]["Address"] == "10.9.0.2/32"
    assert conf["Peer"]["PublicKey"] == app.wireguard.nodes["nl1"].public_key
    moved = (await app.devices())[0]
    assert moved.id == on_first.id
    assert moved.public_key == on_first.public_key
    assert app.wireguard.nodes["de1"].peers == {}
    assert list(app.wireguard.nodes["nl1"].peers) == [moved.public_key]

    same = await app.press(USER, screen, screen.button("nl1")["callback_data"])
    assert [message.text for message in same] == ["Вы уже на сервере nl1 · Amsterdam."]


async def test_status_shows_access_node_and_handshake(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, 30, create=True)
    before = (await app.say(USER, "/status"))[0].text
    assert "до 23.12.2026" in before and "пока нет" in before
    await app.say(USER, "/get_config")
    after = (await app.say(USER, "/status"))[0].text
    assert "nl1 · Amsterdam" in after and "10.8.0.2" in after
    assert "Подключений ещё не было" in after


async def test_node_down_during_get_config_offers_other_servers_and_leaves_nothing(
    app: App,
) -> None:
    await app.add_node("nl1")
    await app.add_node("de1", subnet="10.9.0.1/24")
    await grant(app, USER + 1)
    await app.say(USER + 1, "/get_config")  # on de1, so nl1 is now the least loaded
    app.wireguard.nodes["nl1"].up = False
    await grant(app)
    sent = await app.say(USER, "/get_config")
    assert len(sent) == 1
    assert "Сервер nl1 сейчас недоступен" in sent[0].text
    labels = [b["text"] for row in sent[0].reply_markup["inline_keyboard"] for b in row]
    assert labels == ["de1 (1)"]
    assert [device.user_id for device in await app.devices()] == [USER + 1]
    assert len(app.wireguard.nodes["de1"].peers) == 1


async def test_english_user_gets_english(app: App) -> None:
    await app.add_node("nl1")
    await grant(app)
    answer = await app.say(USER, "/start", language="en")
    assert answer[0].text.startswith("Hi, Test!")
    helped = (await app.say(USER, "/help", language="en"))[0]
    assert "How to connect" in (helped.text or "")
    steps = await app.press(USER, helped, helped.button("Android")["callback_data"], "en")
    assert "Scan from QR code" in (steps[0].text or "")


async def test_language_can_be_changed_in_the_chat(app: App) -> None:
    await grant(app)
    screen = (await app.say(USER, "/language", language="en"))[0]
    russian = screen.reply_markup["inline_keyboard"][0][0]["callback_data"]
    await app.press(USER, screen, russian, language="en")
    answer = await app.say(USER, "/help", language="en")
    assert "Команды" in answer[0].text
