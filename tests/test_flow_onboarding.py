"""Set-up per platform through the real Dispatcher: the first config and /help offer the five
platforms, each with its official apps and three steps; an AmneziaWG config also comes as a
vpn:// key that holds exactly the .conf sent."""

from __future__ import annotations

from typing import Any

from db.models import Node
from locales import translator_for
from nodes.amnezia import AMNEZIAWG, generate
from services.amnezia_key import decode_amnezia_key
from services.onboarding import PLATFORMS, Guide
from tests.conftest import App
from tests.test_amnezia_key import awg_of

USER = 2301
PLATFORM_NAMES = ["iOS", "Android", "Windows", "macOS", "Linux"]


async def grant(app: App, user_id: int = USER) -> None:
    await app.services.users.grant(user_id, None, create=True)


async def make_amneziawg(app: App, name: str) -> None:
    async with app.services.sessions.begin() as session:
        node = await session.get_one(Node, (await app.add_node(name, "Stockholm")).id)
        node.protocol, node.obfuscation = AMNEZIAWG, generate("2.0").to_json()


def labels(message: Any) -> list[str]:
    return [button["text"] for button in message.buttons]


def links(message: Any) -> dict[str, str]:
    return {button["text"]: button["url"] for button in message.buttons}


async def test_the_first_config_offers_the_platforms_and_later_ones_do_not(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await grant(app)
    sent = await app.say(USER, "/get_config")

    assert [m.method for m in sent] == ["sendDocument", "sendPhoto"]
    assert labels(sent[1]) == PLATFORM_NAMES
    assert "Пошаговая настройка" in (sent[1].text or "")
    steps = await app.press(USER, sent[1], sent[1].button("iOS")["callback_data"])
    assert len(steps) == 1
    text = steps[0].text or ""
    assert text.startswith("iOS\n1. Установите приложение WireGuard из App Store")
    assert [line[:3] for line in text.splitlines()[1:]] == ["1. ", "2. ", "3. "]
    assert links(steps[0]) == {"📥 WireGuard": "https://apps.apple.com/app/wireguard/id1441195209"}

    desktop = await app.press(USER, sent[1], sent[1].button("Windows")["callback_data"])
    assert links(desktop[0]) == {"📥 WireGuard": "https://www.wireguard.com/install/"}
    android = await app.press(USER, sent[1], sent[1].button("Android")["callback_data"])
    assert links(android[0]) == {
        "📥 WireGuard": "https://play.google.com/store/apps/details?id=com.wireguard.android"
    }

    again = await app.say(USER, "/get_config")
    assert [m.method for m in again] == ["sendDocument", "sendPhoto"]
    assert again[1].reply_markup is None, "the same device again: no set-up buttons"
    assert "Пошаговая настройка" not in (again[1].text or "")


async def test_help_offers_the_platforms_to_anyone(app: App) -> None:
    helped = (await app.say(USER, "/help"))[0]
    assert labels(helped) == [*PLATFORM_NAMES, "💬 Написать в поддержку"]
    steps = await app.press(USER, helped, helped.button("macOS")["callback_data"])
    assert (steps[0].text or "").startswith("macOS\n1. Установите приложение WireGuard из Mac")
    assert links(steps[0]) == {"📥 WireGuard": "https://apps.apple.com/app/wireguard/id1451685025"}


async def test_a_forged_platform_is_refused_in_the_users_words(app: App) -> None:
    helped = (await app.say(USER, "/help"))[0]
    before = len(app.telegram.sent_to(USER))
    answer = await app.press(USER, helped, "su:windows95")
    assert [m.text for m in answer] == [
        "Такого устройства в списке нет. Откройте /help и выберите из списка."
    ]
    assert len(app.telegram.sent_to(USER)) == before + 1


async def test_an_amneziawg_config_comes_with_a_vpn_key_that_holds_exactly_the_conf(
    app: App,
) -> None:
    await make_amneziawg(app, "aw1")
    await grant(app)
    sent = await app.say(USER, "/get_config")

    assert [m.method for m in sent] == ["sendDocument", "sendPhoto", "sendMessage"]
    conf = sent[0].document.content.decode()
    assert sent[1].reply_markup is None, "the set-up buttons go under the last message"
    note = sent[2]
    assert note.text is not None and note.text.startswith("🔑 Ключ для AmneziaVPN")
    key = note.text.splitlines()[1]
    code = [e for e in note.message.get("entities", []) if e["type"] == "code"]
    assert [e["length"] for e in code] == [len(key)], "one tap on the key copies it"
    profile = decode_amnezia_key(key)
    _, last_config = awg_of(profile)
    assert last_config["config"] == conf
    assert profile["description"] == "aw1"
    assert labels(note) == PLATFORM_NAMES

    steps = await app.press(USER, note, note.button("Android")["callback_data"])
    text = steps[0].text or ""
    assert text.startswith("Android\n1. Установите AmneziaVPN или AmneziaWG из Google Play")
    assert "vpn://" in text
    assert links(steps[0]) == {
        "📥 AmneziaVPN": "https://play.google.com/store/apps/details?id=org.amnezia.vpn",
        "📥 AmneziaWG": "https://play.google.com/store/apps/details?id=org.amnezia.awg",
    }
    linux = await app.press(USER, note, note.button("Linux")["callback_data"])
    assert links(linux[0]) == {"📥 AmneziaVPN": "https://amnezia.org/downloads"}

    again = await app.say(USER, "/get_config")
    assert again[2].text == note.text.splitlines()[0] + "\n" + key, "the same device and key"
    assert again[2].reply_markup is None


def test_every_platform_has_its_steps_in_both_languages() -> None:
    for language in ("ru", "en"):
        t = translator_for(language)
        for platform in PLATFORMS:
            for amnezia in (False, True):
                guide = Guide(platform, amnezia)
                steps = t(guide.steps_key).splitlines()
                assert [line[:3] for line in steps] == ["1. ", "2. ", "3. "], guide.steps_key
                assert guide.apps and all(app.url.startswith("https://") for app in guide.apps)
