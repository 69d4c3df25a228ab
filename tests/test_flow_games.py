"""Games in /server through the real Dispatcher: the nodes' round trips to a game's servers
(measured by the scheduler's job) rank them, with the time shown; the game's routes in one tap;
stale or missing figures say so; a forged game changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import select

from bot.metrics import REGISTRY, record_game_round_trips
from db.models import Device, GameRoundTrip, Node
from services.clientconfig import ClientConfig
from services.game_pings import STALE_AFTER_INTERVALS
from tests.conftest import App, first_config, open_app
from tests.fakes.telegram_api import FakeTelegram

USER = 2501
VALVE_AMSTERDAM, VALVE_STOCKHOLM = "155.133.248.36", "162.254.197.36"  # CS2's shipped targets


def labels(message: Any) -> list[str]:
    return [button["text"] for button in message.buttons]


async def measure(app: App) -> None:
    """One run of the scheduler's game_pings job."""
    record_game_round_trips(await app.services.game_pings.measure_all())


async def setup(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.add_node("de1", "Frankfurt")
    await app.add_node("fi1", "Helsinki")
    app.wireguard.nodes["nl1"].round_trips = {VALVE_AMSTERDAM: 48.2, VALVE_STOCKHOLM: 31.6}
    app.wireguard.nodes["de1"].round_trips = {VALVE_AMSTERDAM: 12.4, VALVE_STOCKHOLM: None}
    # fi1 answers no ping: no figure
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")


async def pressed(app: App, message: Any, text: str) -> Any:
    """Press the button and return the message as the bot edited it in place."""
    assert await app.press(USER, message, message.button(text)["callback_data"]) == []
    return next(m for m in app.telegram.sent_to(USER) if m.message_id == message.message_id)


async def cs2_screen(app: App) -> Any:
    screen = (await app.say(USER, "/server"))[0]
    games = await pressed(app, screen, "Сервер для игры")
    assert (games.text or "").startswith("🎮 Выберите игру")
    assert labels(games) == ["🎮 Counter-Strike 2", "🎮 Dota 2", "🎮 League of Legends"]
    return await pressed(app, games, "Counter-Strike 2")


async def test_server_ranks_the_nodes_for_a_game_by_round_trip(app: App) -> None:
    await setup(app)
    await measure(app)
    current = (await app.devices())[0].node_id

    ranked = await cs2_screen(app)
    assert (ranked.text or "").startswith("🎮 Counter-Strike 2\nСерверы по задержке")
    shown = [label.removeprefix("✅ ") for label in labels(ranked)]
    assert shown == [
        "de1 · Frankfurt · 12 мс",
        "nl1 · Amsterdam · 32 мс",
        "fi1 · Helsinki · нет данных",
        "🧭 Через VPN только Counter-Strike 2",
        "◀️ Другие игры",
    ]
    marked = [label for label in labels(ranked) if label.startswith("✅ ")]
    names = {node.id: node.name for node in await app_nodes(app)}
    async with app.services.sessions() as session:
        rows = (await session.scalars(select(GameRoundTrip))).all()
    assert len(marked) == 1 and marked[0].startswith(f"✅ {names[current]} ·")
    stored = {(names[row.node_id], row.game): row.rtt_ms for row in rows}
    assert stored[("de1", "cs2")] == 12.4 and stored[("nl1", "cs2")] == 31.6
    assert stored[("fi1", "cs2")] is None and stored[("nl1", "lol")] is None

    metrics = generate_latest(REGISTRY).decode()
    assert 'vpnservice_game_round_trip_seconds{game="cs2",node="de1"} 0.0124' in metrics
    assert 'game="cs2",node="fi1"' not in metrics, "no answer: no sample"

    target = "nl1" if names[current] == "de1" else "de1"
    moved = await app.press(USER, ranked, ranked.button(f"{target} ·")["callback_data"])
    assert f"Готово: вы на сервере {target}." in (moved[0].text or "")


async def app_nodes(app: App) -> list[Node]:
    async with app.services.sessions() as session:
        return list((await session.scalars(select(Node))).all())


async def test_the_games_routes_in_one_tap(app: App) -> None:
    await setup(app)
    await measure(app)
    ranked = await cs2_screen(app)
    sent = await app.press(USER, ranked, ranked.button("Через VPN только")["callback_data"])
    assert (sent[0].text or "").startswith(
        "Готово: на всех ваших устройствах через VPN идёт только трафик Counter-Strike 2"
    )
    assert [m.method for m in sent[1:]] == ["sendDocument", "sendPhoto"]
    (device,) = await app.devices()
    assert device.route_preset == "game-cs2"
    config: ClientConfig = await first_config(app.services, USER)
    allowed = next(line for line in config.text.splitlines() if line.startswith("AllowedIPs"))
    assert "155.133.248.0/21" in allowed and "0.0.0.0/0" not in allowed
    assert sent[1].document.content.decode() == config.text


async def test_stale_figures_and_a_failed_node_are_not_shown_as_fresh(app: App) -> None:
    await setup(app)
    await measure(app)
    app.wireguard.nodes["nl1"].up = False  # its last figure stays until it grows stale
    app.clock.advance(seconds=app.settings.game_ping_interval)
    await measure(app)
    ranked = await cs2_screen(app)
    assert [label.removeprefix("✅ ") for label in labels(ranked)][:3] == [
        "de1 · Frankfurt · 12 мс",
        "nl1 · Amsterdam · 32 мс",
        "fi1 · Helsinki · нет данных",
    ]
    app.clock.advance(seconds=app.settings.game_ping_interval * STALE_AFTER_INTERVALS)
    await measure(app)  # de1 and fi1 measured again; nl1 is still down
    ranked = await cs2_screen(app)
    assert [label.removeprefix("✅ ") for label in labels(ranked)][:3] == [
        "de1 · Frankfurt · 12 мс",
        "fi1 · Helsinki · нет данных",
        "nl1 · Amsterdam · нет данных",
    ]


async def test_a_forged_game_is_refused_and_changes_nothing(app: App) -> None:
    await setup(app)
    await measure(app)
    ranked = await cs2_screen(app)
    for data in ("gm:p:nosuch", "gm:r:nosuch", "gm:r:" + "x" * 50):
        answer = await app.press(USER, ranked, data)
        assert [m.text for m in answer] == [
            "Такой игры нет. Откройте /server и выберите из списка."
        ]
    devices: list[Device] = await app.devices()
    assert [device.route_preset for device in devices] == [""]


async def test_games_need_access(app: App) -> None:
    outsider = USER + 1
    await app.say(outsider, "/start")
    helped = (await app.say(outsider, "/help"))[0]
    for data in ("gm:l:", "gm:p:cs2", "gm:r:cs2"):
        answer = await app.press(outsider, helped, data)
        assert [m.text for m in answer] == [
            "У вас нет доступа. Попросите администратора — /start отправит ему заявку."
        ]


async def test_no_games_button_while_measuring_is_off(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    app = await open_app(tmp_path, telegram, database_url, game_ping_interval=0)
    try:
        await setup(app)
        assert await app.services.game_pings.measure_all() != []  # measuring works when asked
        screen = (await app.say(USER, "/server"))[0]
        assert not [label for label in labels(screen) if "игры" in label]
    finally:
        await app.close()
