"""Grace for VLESS devices, over an in-memory Xray: in grace the device stays on the node under
its grace name (same id, same link) and the node's routes send it to the grace addresses only;
a payment brings full access back at once, the end of grace takes the device off; the expiry
message of a user whose only device is VLESS; a node that cannot route leaves it out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from db.models import AccessKind, User
from nodes.xray_grace import BLACKHOLE, GRACE_USERS, GraceRoutes
from nodes.xrayforeign import ForeignXray
from services.audit import OPERATOR
from services.vless import VlessAccess
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.xray import FakeXray

SITE = "www.example.com"
USER, OTHER = 7401, 7402


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> AsyncIterator[App]:
    world = await open_app(tmp_path, telegram, database_url, stars_enabled=True)
    yield world
    await world.close()


async def vless_node(app: App, name: str = "nl1") -> FakeXray:
    await app.add_node(name)
    xray = FakeXray()
    app.services.vless.xray = xray  # type: ignore[assignment]
    await app.services.vless.enable(name, f"{SITE}:443", SITE, actor_id=OPERATOR)
    return xray


async def vless_user(app: App, user_id: int, *, days: int, language: str = "ru") -> VlessAccess:
    """A user with `days` of invited access whose only device is the VLESS one /vless made."""
    await app.say(user_id, "/start", language)
    async with app.services.sessions.begin() as session:
        user = await session.get_one(User, user_id)
        user.access_kind = AccessKind.INVITE
        user.access_until = app.clock() + timedelta(days=days)
    sent = await app.say(user_id, "/vless", language)
    [access] = await app.services.vless.accesses(user_id)
    assert any(access.link in (message.text or "") for message in sent)
    assert await app.devices() == []  # no WireGuard device
    return access


async def pay(app: App, user_id: int) -> None:
    """A month paid with Stars, as the user does it in the chat."""
    (plans,) = await app.say(user_id, "/subscribe")
    (methods,) = await app.press(user_id, plans, "plan:1m")
    await app.press(user_id, methods, "pay:1m:stars")
    call = next(c for c in reversed(app.telegram.calls) if c.method == "sendInvoice")
    await app.feed(app.telegram.successful_payment(user_id, str(call.params["payload"]), 150))
    assert "Оплата получена" in (app.telegram.sent_to(user_id)[-1].text or "")


def served(xray: FakeXray, node: str = "nl1") -> dict[str, str]:
    """Name → id of every user the node's running Xray serves."""
    return {name: user.id for name, user in xray.running[node].items()}


async def test_in_grace_a_vless_device_stays_routed_to_telegram_only_until_paid(app: App) -> None:
    xray = await vless_node(app)
    mine = await vless_user(app, USER, days=1)
    theirs = await vless_user(app, OTHER, days=90)
    uid, email = mine.device.uuid, mine.device.email
    grace_email = f"g{mine.device.id}"
    assert served(xray) == {email: uid, theirs.device.email: theirs.device.uuid}

    app.clock.advance(days=1, hours=1)
    before = len(app.telegram.sent_to(USER))
    run = await app.services.reminders.run()
    assert run.expired == 1
    (message,) = app.telegram.sent_to(USER)[before:]
    text = message.text or ""
    assert "Доступ закончился" in text and "VPN открывает только Telegram" in text
    assert "та же конфигурация или ссылка VLESS снова работает полностью" in text
    assert message.button("Продлить")

    # the same id under its grace name; the other user untouched, only the old name's
    # connections closed
    assert served(xray) == {grace_email: uid, theirs.device.email: theirs.device.uuid}
    assert xray.cut["nl1"] == [email]
    routes = xray.routes["nl1"]
    assert {"149.154.160.0/20", "91.108.4.0/22", "2001:67c:4e8::/48"} <= set(routes.networks)
    assert {"1.1.1.1/32", "1.0.0.1/32"} <= set(routes.networks)  # the node's DNS servers
    config = json.loads(xray.configs["nl1"])  # what a restarted Xray serves
    clients = {c["email"]: c["id"] for c in config["inbounds"][0]["settings"]["clients"]}
    assert clients[grace_email] == uid and email not in clients
    allow, block = config["routing"]["rules"]
    assert allow["user"] == block["user"] == [GRACE_USERS]
    assert set(allow["ip"]) == set(routes.networks) and allow["outboundTag"] == "direct"
    assert "ip" not in block and block["outboundTag"] == BLACKHOLE
    assert {"protocol": "blackhole", "tag": BLACKHOLE} in config["outbounds"]
    assert config["outbounds"][0]["tag"] == "direct"  # everybody else goes out as before

    # a payment: full access at once, the same id and the same link
    await pay(app, USER)
    assert served(xray) == {email: uid, theirs.device.email: theirs.device.uuid}
    sent = await app.say(USER, "/vless")
    assert any(message.text == mine.link for message in sent)

    # the paid month ends, then its grace: the device leaves the node, its row stays
    app.clock.advance(days=31)
    await app.services.reminders.run()
    assert served(xray) == {grace_email: uid, theirs.device.email: theirs.device.uuid}
    app.clock.advance(days=3)
    run = await app.services.reminders.run()
    assert run.grace_ended == 1
    assert served(xray) == {theirs.device.email: theirs.device.uuid}
    [kept] = await app.services.vless.accesses(USER)
    assert kept.link == mine.link


async def test_english_expiry_message_of_a_vless_only_user_names_its_link(app: App) -> None:
    await vless_node(app)
    await vless_user(app, USER, days=1, language="en")
    app.clock.advance(days=1, hours=1)
    before = len(app.telegram.sent_to(USER))
    await app.services.reminders.run()
    (message,) = app.telegram.sent_to(USER)[before:]
    text = message.text or ""
    assert "Your access ended" in text and "the VPN opens only Telegram" in text
    assert "the same config or VLESS link works fully again" in text


async def test_without_grace_days_the_vless_device_goes_at_expiry(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    app = await open_app(tmp_path, telegram, database_url, grace_days=0)
    try:
        xray = await vless_node(app)
        await vless_user(app, USER, days=1)
        app.clock.advance(days=1, hours=1)
        before = len(app.telegram.sent_to(USER))
        await app.services.reminders.run()
        (message,) = app.telegram.sent_to(USER)[before:]
        assert "VPN отключён" in (message.text or "")
        assert served(xray) == {}
    finally:
        await app.close()


async def test_routes_changed_on_the_node_are_put_back_by_reconcile(app: App) -> None:
    xray = await vless_node(app)
    await vless_user(app, USER, days=1)
    app.clock.advance(days=1, hours=1)
    await app.services.reminders.run()
    wanted = xray.routes["nl1"]
    xray.routes["nl1"] = GraceRoutes(("0.0.0.0/1", "128.0.0.0/1"))  # opened by hand

    answer = await app.say(ADMIN_ID, "/reconcile nl1")
    assert "VLESS" not in answer[-1].text
    assert xray.routes["nl1"] == wanted


async def test_a_node_whose_xray_cannot_route_leaves_users_in_grace_out(app: App) -> None:
    xray = await vless_node(app)
    mine = await vless_user(app, USER, days=1)
    theirs = await vless_user(app, OTHER, days=90)
    xray.unrouted.add("nl1")  # an Xray started before its config had the RoutingService
    app.clock.advance(days=1, hours=1)
    await app.services.reminders.run()
    assert served(xray) == {theirs.device.email: theirs.device.uuid}, "full access in grace"
    config = json.loads(xray.configs["nl1"])
    clients = {c["email"] for c in config["inbounds"][0]["settings"]["clients"]}
    assert f"g{mine.device.id}" in clients  # a restart from the file serves it, routed

    xray.unrouted.clear()
    await app.services.reconcile.reconcile_all()
    assert served(xray)[f"g{mine.device.id}"] == mine.device.uuid


async def test_a_node_keeping_its_own_xray_config_leaves_users_in_grace_out(app: App) -> None:
    xray = await vless_node(app)
    mine = await vless_user(app, USER, days=1)
    theirs = await vless_user(app, OTHER, days=90)
    xray.own_config["nl1"] = ForeignXray(inbounds=1, clients=3)  # an adopted node's own inbound
    app.clock.advance(days=1, hours=1)
    await app.services.reminders.run()
    await app.services.reconcile.reconcile_all()
    assert served(xray) == {theirs.device.email: theirs.device.uuid}, "no full access in grace"
    assert f"g{mine.device.id}" not in served(xray)


def test_grace_routes_are_checked_and_canonical() -> None:
    routes = GraceRoutes.build(["91.108.4.0/22", "1.1.1.1", "2001:67c:4e8::/48", "1.1.1.1/32"])
    assert routes.networks == ("1.1.1.1/32", "91.108.4.0/22", "2001:67c:4e8::/48")
    assert routes == GraceRoutes.build(reversed(routes.networks))
    assert routes.digest != GraceRoutes.build(["91.108.4.0/22"]).digest
    for everything in ("0.0.0.0/0", "::/0"):
        with pytest.raises(ValueError, match="everything"):
            GraceRoutes.build([everything])
    with pytest.raises(ValueError, match="does not appear to be"):
        GraceRoutes.build(["telegram.org"])
    assert [outbound for outbound, _ in GraceRoutes(()).listing] == [BLACKHOLE]
