"""Nodes as cattle, through the admin's chat: reconcile, health alerts, migrate and drain."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.models import Device, NodeHealth, NodeStatus
from nodes import PeerSpec, PeerState
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from tests.conftest import ADMIN_ID, App


async def users_with_configs(app: App, *user_ids: int) -> None:
    for user_id in user_ids:
        await app.services.users.grant(user_id, None, create=True)
        await app.say(user_id, "/get_config")


def stray_peer() -> PeerSpec:
    return PeerSpec(
        public_key(generate_private_key()), generate_preshared_key(), ("10.8.0.200/32",)
    )


async def test_reconcile_fixes_drift_and_reports_it(app: App) -> None:
    await app.add_node("nl1")
    await users_with_configs(app, 7001, 7002)
    peers = app.wireguard.nodes["nl1"].peers
    removed_by_hand = next(iter(peers))
    del peers[removed_by_hand]
    stray = stray_peer()
    peers[stray.public_key] = stray

    await app.say(ADMIN_ID, "/start")
    answer = await app.say(ADMIN_ID, "/reconcile nl1")
    assert answer[-1].text == "🔧 nl1 сверен с базой: добавлено 1, удалено 1, исправлено 0."
    assert set(peers) == {device.public_key for device in await app.devices()}

    again = await app.say(ADMIN_ID, "/reconcile nl1")
    assert again[-1].text == "✅ nl1 совпадает с базой, ничего менять не пришлось."


async def test_reconcile_bad_input(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    assert (await app.say(ADMIN_ID, "/reconcile"))[-1].text == "Использование: /reconcile ИМЯ"
    assert (await app.say(ADMIN_ID, "/reconcile nope"))[
        -1
    ].text == "Сервера nope нет. Список: /nodes"
    assert (await app.say(ADMIN_ID, "/reconcile " + "x" * 3000))[
        -1
    ].text == "Использование: /reconcile ИМЯ"
    refused = await app.say(7100, "/reconcile nl1")
    assert refused[-1].text == "Эта команда только для администраторов."


async def probe_times(app: App, count: int) -> None:
    for _ in range(count):
        await app.services.health.probe_all()
        app.clock.advance(minutes=1)


async def test_node_down_alerts_once_and_recovers_once(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    before = len(app.telegram.sent_to(ADMIN_ID))
    await probe_times(app, 2)
    app.wireguard.nodes["nl1"].up = False
    await probe_times(app, 2)
    assert len(app.telegram.sent_to(ADMIN_ID)) == before, "no alert before the third failure"
    await probe_times(app, 4)
    alerts = app.telegram.sent_to(ADMIN_ID)[before:]
    assert [a.text for a in alerts] == [
        "🔴 Сервер nl1 недоступен (3 проверки подряд): connection refused"
    ]
    app.wireguard.nodes["nl1"].up = True
    await probe_times(app, 3)
    alerts = app.telegram.sent_to(ADMIN_ID)[before:]
    assert [a.text for a in alerts][1:] == ["🟢 Сервер nl1 снова в строю."]


async def test_flapping_node_raises_no_alert(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    before = len(app.telegram.sent_to(ADMIN_ID))
    for _ in range(6):
        app.wireguard.nodes["nl1"].up = False
        await probe_times(app, 2)
        app.wireguard.nodes["nl1"].up = True
        await probe_times(app, 1)
    assert len(app.telegram.sent_to(ADMIN_ID)) == before


async def test_down_node_is_hidden_and_its_users_stay_in_their_region(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.add_node("nl2", "Amsterdam", subnet="10.9.0.1/24")
    await app.add_node("de1", "Frankfurt", subnet="10.10.0.1/24")
    await users_with_configs(app, 7201, 7202)  # one on de1 and one on nl1, by load then name
    screen = (await app.say(7202, "/server"))[0]
    await app.press(7202, screen, screen.button("nl2")["callback_data"])
    screen = (await app.say(7202, "/server"))[0]
    await app.press(7202, screen, screen.button("nl1")["callback_data"])
    app.wireguard.nodes["nl1"].up = False
    await probe_times(app, 3)

    screen = (await app.say(7201, "/server"))[0]
    labels = [button["text"] for button in screen.buttons]
    assert not any("nl1" in label for label in labels), "a node that is down is hidden"
    assert "nl2 · Amsterdam (0) · CPU 25%" in labels

    async with app.services.sessions.begin() as session:  # the admin reset 7202's device
        device = await session.scalar(select(Device).where(Device.user_id == 7202))
        await session.delete(device)
    await app.say(7202, "/get_config")
    placed = {d.user_id: d.node_id for d in await app.devices()}
    nodes = {node.id: node.name for node in await app.services.fleet.all()}
    assert nodes[placed[7202]] == "nl2", "the chosen node is down: its region, not the least loaded"


async def test_traffic_survives_a_counter_reset(app: App) -> None:
    await app.add_node("nl1")
    await users_with_configs(app, 7301)
    device = (await app.devices())[0]
    node = app.wireguard.nodes["nl1"]

    def counters(rx: int, tx: int) -> None:
        node.handshakes[device.public_key] = PeerState(
            device.public_key,
            "198.51.100.7:4242",
            ("10.8.0.2/32",),
            app.clock.now - timedelta(seconds=30),
            rx,
            tx,
        )

    counters(1000, 5000)
    await app.services.health.probe_all()
    counters(300, 700)  # the node restarted
    await app.services.health.probe_all()
    counters(400, 900)
    await app.services.health.probe_all()
    async with app.services.sessions() as session:
        stored = await session.get_one(Device, device.id)
        health = await session.get_one(NodeHealth, stored.node_id)
    assert (stored.rx_total, stored.tx_total) == (1400, 5900)
    assert health.recent_handshakes == 1
    status = (await app.say(7301, "/status"))[0].text
    assert "Последнее подключение: 30 с назад" in status
    assert "Трафик: ↓ 5.8 КБ · ↑ 1.4 КБ" in status
    await app.say(ADMIN_ID, "/start")
    users = (await app.say(ADMIN_ID, "/users"))[0].text
    assert "7301 Test · бессрочно · nl1 · 30 с назад · ↓ 5.8 КБ ↑ 1.4 КБ" in users


async def test_migrate_moves_everyone_and_sends_configs(app: App) -> None:
    await app.add_node("nl1")
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.say(ADMIN_ID, "/start")
    await users_with_configs(app, 7401, 7402, 7403)
    # nl1 < de1 by device count: de1 gets the first, then nl1, then de1... put all on nl1:
    for user_id in (7401, 7402, 7403):
        screen = (await app.say(user_id, "/server"))[0]
        await app.press(user_id, screen, screen.button("nl1")["callback_data"])
    app.telegram.blocked.add(7403)

    answer = await app.say(ADMIN_ID, "/migrate nl1 de1")
    assert (
        answer[-1].text == "✅ nl1 → de1: перенесено 3, конфигурацию получили 2, не доставлено 1."
    )
    devices = await app.devices()
    de1 = app.wireguard.nodes["de1"]
    assert {device.public_key for device in devices} == set(de1.peers)
    assert app.wireguard.nodes["nl1"].peers == {}
    for user_id in (7401, 7402):
        sent = app.telegram.sent_to(user_id)[-3:]
        assert sent[0].text.startswith("🔄 Мы перенесли вас на сервер de1.")
        assert sent[1].document.filename == "de1.conf"
        assert sent[2].method == "sendPhoto"
    assert len({device.address4 for device in devices}) == 3


async def test_migrate_to_a_dead_node_changes_nothing(app: App) -> None:
    await app.add_node("nl1")
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.say(ADMIN_ID, "/start")
    await users_with_configs(app, 7501)  # on de1: fewest devices, then name
    before = [(d.node_id, d.address4, d.public_key) for d in await app.devices()]
    app.wireguard.nodes["nl1"].up = False
    answer = await app.say(ADMIN_ID, "/migrate de1 nl1")
    assert answer[-1].text == "❌ Сервер nl1 недоступен, ничего не изменено."
    assert [(d.node_id, d.address4, d.public_key) for d in await app.devices()] == before
    assert set(app.wireguard.nodes["de1"].peers) == {before[0][2]}


async def test_migrate_bad_input(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    assert "Использование" in (await app.say(ADMIN_ID, "/migrate nl1"))[-1].text
    assert (await app.say(ADMIN_ID, "/migrate nl1 nl1"))[-1].text.startswith("Так перенести нельзя")
    assert (await app.say(ADMIN_ID, "/migrate nl1 zz9"))[
        -1
    ].text == "Сервера zz9 нет. Список: /nodes"


async def test_drain_moves_users_within_the_region_and_closes_the_node(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.add_node("nl2", "Amsterdam", subnet="10.9.0.1/24")
    await app.add_node("de1", "Frankfurt", subnet="10.10.0.1/24")
    await app.say(ADMIN_ID, "/start")
    await users_with_configs(app, 7601)
    screen = (await app.say(7601, "/server"))[0]
    await app.press(7601, screen, screen.button("nl1")["callback_data"])

    answer = await app.say(ADMIN_ID, "/drain nl1")
    assert answer[-1].text.startswith("✅ nl1 → nl2: перенесено 1")
    names = {choice.name for choice in await app.services.placement.choices()}
    assert "nl1" not in names
    await users_with_configs(app, 7602, 7603)
    assert app.wireguard.nodes["nl1"].peers == {}
    node_status = {node.name: node.status for node in await app.services.fleet.all()}
    assert node_status["nl1"] is NodeStatus.DRAINING


async def test_expiry_removes_the_peer_quietly_and_renewal_brings_it_back(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(7701, 3, create=True)
    await app.say(7701, "/get_config")
    key = (await app.devices())[0].public_key
    before = len(app.telegram.sent_to(ADMIN_ID))

    app.clock.advance(days=4)
    await app.services.reconcile.reconcile_all()
    assert list(app.wireguard.nodes["nl1"].peers) == [key], "in grace the peer stays"
    assert app.wireguard.nodes["nl1"].in_grace == {"10.8.0.2"}
    app.clock.advance(days=3)
    await app.services.reconcile.reconcile_all()
    assert app.wireguard.nodes["nl1"].peers == {}, "grace over: the peer leaves the node"
    assert len(app.telegram.sent_to(ADMIN_ID)) == before, "expiry is not drift: no alert"

    await app.say(ADMIN_ID, "/add_user 7701 30")
    assert list(app.wireguard.nodes["nl1"].peers) == [key], "renewal brings back the same peer"


async def test_set_endpoint_sends_every_user_of_the_node_the_new_address(app: App) -> None:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await users_with_configs(app, 501, 502)
    before = len(app.telegram.sent_to(501))

    for bad in (
        "/set_endpoint",
        "/set_endpoint nl1",
        "/set_endpoint nl1 host",
        "/set_endpoint nl1 h:0",
        "/set_endpoint nl1 $(x):51820",
    ):
        (answer,) = await app.say(ADMIN_ID, bad)
        assert "Использование" in (answer.text or "")
    (answer,) = await app.say(ADMIN_ID, "/set_endpoint xx1 198.51.100.7:51820")
    assert "xx1" in (answer.text or "")
    assert len(app.telegram.sent_to(501)) == before, "bad input sends nothing"

    (answer,) = await app.say(ADMIN_ID, "/set_endpoint nl1 198.51.100.7:51820")
    assert "nl1.example:51820 → 198.51.100.7:51820" in (answer.text or "")
    assert "получили 2, не доставлено 0" in (answer.text or "")
    for user_id in (501, 502):
        sent = app.telegram.sent_to(user_id)[-3:]
        config = next(m for m in sent if m.document).document.content.decode()
        assert "Endpoint = 198.51.100.7:51820" in config
    (refused,) = await app.say(501, "/set_endpoint nl1 203.0.113.1:51820")
    assert "только для администраторов" in (refused.text or "")
