"""Adopting a node whose interface already serves peers (made by hand or by another panel):
they are kept, reconcile leaves them, their addresses are never handed out, and an admin
removes them only on purpose, after a confirmation."""

from __future__ import annotations

import asyncssh
import pytest
from sqlalchemy import select

from db.models import AuditEntry, ForeignPeer, Node
from nodes import PeerSpec
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from services.fleet import NewNode
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import Sent
from tests.test_flow_user import parse_conf

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
USER = 2301


@pytest.fixture
def no_host_key_scan(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scan(host: str, port: int = 22, *, name: str | None = None) -> str:
        return HOST_KEY

    monkeypatch.setattr(app.services.pool, "scan_host_key", scan)


def peer(*allowed: str) -> PeerSpec:
    return PeerSpec(public_key(generate_private_key()), generate_preshared_key(), allowed)


def latest(app: App, message: Sent) -> Sent:
    """The admin's message as it is now, after the edits a button made."""
    return next(m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == message.message_id)


async def foreign_rows(app: App) -> list[ForeignPeer]:
    async with app.services.sessions() as session:
        return list((await session.scalars(select(ForeignPeer).order_by(ForeignPeer.id))).all())


async def adopted(app: App, *peers: PeerSpec) -> Node:
    """nl1 running with `peers` already on its interface, then `node add` adopts it."""
    fake = app.wireguard.add_node("nl1", ("10.8.0.1/24", "fd00:8::1/64"))
    fake.peers.update((item.public_key, item) for item in peers)
    return await app.services.fleet.add(ADMIN_ID, NewNode("nl1", "203.0.113.7"))


async def test_adoption_keeps_the_peers_and_never_hands_out_their_addresses(
    app: App, no_host_key_scan: None
) -> None:
    by_hand = peer("10.8.0.2/32")
    panel = peer("10.8.0.3/32", "fd00:8::3/128")
    v6_only = peer("fd00:8::4/128")  # its IPv4 twin, 10.8.0.4, is taken too
    node = await adopted(app, by_hand, panel, v6_only)
    assert await app.services.fleet.foreign_count(node.id) == 3
    rows = await foreign_rows(app)
    assert [(row.public_key, row.networks) for row in rows] == [
        (by_hand.public_key, ("10.8.0.2/32",)),
        (panel.public_key, ("10.8.0.3/32", "fd00:8::3/128")),
        (v6_only.public_key, ("fd00:8::4/128",)),
    ]
    async with app.services.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "add_node"))
    assert entry is not None and entry.details.endswith("foreign=3")

    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(USER, None, create=True)
    config = parse_conf((await app.say(USER, "/get_config"))[0].document.content.decode())
    assert config["Interface"]["Address"] == "10.8.0.5/32, fd00:8::5/128"

    result = await app.services.reconcile.reconcile(node)  # as at start-up and on schedule
    assert result.plan is not None and not result.plan.changed
    fake = app.wireguard.nodes["nl1"]
    assert {by_hand.public_key, panel.public_key, v6_only.public_key} <= set(fake.peers)
    assert fake.peers[panel.public_key] == panel, "kept exactly as it was"
    assert not [m for m in app.telegram.sent_to(ADMIN_ID) if "сверен с базой" in (m.text or "")]

    stray = peer("10.8.0.9/32")  # made later by someone else: drift, removed as before
    fake.peers[stray.public_key] = stray
    result = await app.services.reconcile.reconcile(node)
    assert result.plan is not None and result.plan.remove == (stray.public_key,)
    assert stray.public_key not in fake.peers and len(fake.peers) == 4
    alert = app.telegram.sent_to(ADMIN_ID)[-1].text or ""
    assert "nl1 сверен с базой: добавлено 0, удалено 1" in alert

    # a move onto the node skips them too
    await app.add_node("de1", subnet="10.9.0.1/24")
    await app.services.users.grant(USER + 1, None, create=True)
    await app.services.devices.move(USER + 1, (await app.services.fleet.named("de1")).id)
    await app.services.devices.move(USER + 1, node.id)
    (moved,) = await app.services.devices.devices_of(USER + 1)
    assert moved.address4 == "10.8.0.6"


async def test_nodes_counts_them_and_foreign_removes_one_after_a_confirmation(
    app: App, no_host_key_scan: None
) -> None:
    first, second = peer("10.8.0.2/32"), peer("10.8.0.3/32")
    node = await adopted(app, first, second)
    await app.say(ADMIN_ID, "/start")
    (nodes,) = await app.say(ADMIN_ID, "/nodes")
    assert "🧩 чужих пиров: 2 (/foreign nl1)" in (nodes.text or "")

    (listing,) = await app.say(ADMIN_ID, "/foreign nl1")
    text = listing.text or ""
    assert "Пиры на nl1, созданные не ботом (найдены при добавлении сервера): 2." in text
    assert f"1. {first.public_key} · 10.8.0.2/32" in text
    assert f"2. {second.public_key} · 10.8.0.3/32" in text
    assert [b["text"] for b in listing.buttons] == ["🗑 1", "🗑 2", "🗑 Удалить все"]

    user = 2399  # a user pressing an admin's button (or forging its data) is refused
    await app.say(user, "/start")
    await app.press(user, listing, listing.button("🗑 1")["callback_data"])
    alert = list(app.telegram.answered_callbacks.values())[-1]
    assert alert["text"] == "Эта команда только для администраторов." and alert["show_alert"]
    assert len(await foreign_rows(app)) == 2

    await app.press(ADMIN_ID, listing, listing.button("🗑 1")["callback_data"])
    question = latest(app, listing)
    assert question.text == (
        f"Удалить пир {first.public_key} (10.8.0.2/32) с nl1? "
        "У того, кто им пользуется, VPN сразу перестанет работать."
    )
    await app.press(ADMIN_ID, question, question.button("Отмена")["callback_data"])
    assert latest(app, listing).text == "Отменено, ничего не удалено."
    assert first.public_key in app.wireguard.nodes["nl1"].peers

    (listing,) = await app.say(ADMIN_ID, "/foreign nl1")
    await app.press(ADMIN_ID, listing, listing.button("🗑 1")["callback_data"])
    question = latest(app, listing)
    yes = question.button("Да, удалить")["callback_data"]
    await app.press(ADMIN_ID, question, yes)
    done = latest(app, listing).text
    assert done == (
        "✅ Чужие пиры удалены с nl1: 1. Их адреса теперь свободны для новых устройств."
    )
    assert first.public_key not in app.wireguard.nodes["nl1"].peers
    assert second.public_key in app.wireguard.nodes["nl1"].peers
    assert [row.public_key for row in await foreign_rows(app)] == [second.public_key]
    async with app.services.sessions() as session:
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert (audit[-1].actor_id, audit[-1].action, audit[-1].target) == (
        ADMIN_ID,
        "remove_foreign",
        "nl1",
    )
    assert not [m for m in app.telegram.sent_to(ADMIN_ID) if "сверен с базой" in (m.text or "")]

    # its address is free again
    await app.services.users.grant(USER, None, create=True)
    config = parse_conf((await app.say(USER, "/get_config"))[0].document.content.decode())
    assert config["Interface"]["Address"].startswith("10.8.0.2/32")

    # the same button again (stale), and one for a peer of no node: nothing happens
    await app.press(ADMIN_ID, question, yes)
    assert latest(app, listing).text == ("Эта кнопка устарела. Откройте меню заново: /start")
    await app.press(ADMIN_ID, question, f"fp:ok:{node.id}:99999")
    assert latest(app, listing).text == "Эта кнопка устарела. Откройте меню заново: /start"
    assert len(await foreign_rows(app)) == 1

    (listing,) = await app.say(ADMIN_ID, "/foreign nl1")
    await app.press(ADMIN_ID, listing, listing.button("Удалить все")["callback_data"])
    question = latest(app, listing)
    assert question.text.startswith("Удалить все чужие пиры (1) с nl1?")
    await app.press(ADMIN_ID, question, question.button("Да, удалить")["callback_data"])
    assert await foreign_rows(app) == []
    assert second.public_key not in app.wireguard.nodes["nl1"].peers
    assert (await app.say(ADMIN_ID, "/foreign nl1"))[0].text == "На nl1 нет чужих пиров."
    (nodes,) = await app.say(ADMIN_ID, "/nodes")
    assert "чужих" not in (nodes.text or "")


async def test_foreign_without_a_name_or_for_an_unknown_node(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    (usage,) = await app.say(ADMIN_ID, "/foreign")
    assert usage.text.startswith("Использование: /foreign ИМЯ")
    (unknown,) = await app.say(ADMIN_ID, "/foreign nope")
    assert "nope" in (unknown.text or "")
    (refused,) = await app.say(2398, "/foreign nl1")
    assert refused.text == "Эта команда только для администраторов."


async def test_add_node_in_the_chat_says_how_many_peers_it_kept(
    app: App, no_host_key_scan: None
) -> None:
    fake = app.wireguard.add_node("nl1")
    for item in (peer("10.8.0.2/32"), peer("10.8.0.3/32")):
        fake.peers[item.public_key] = item
    await app.say(ADMIN_ID, "/start")
    check = await app.say(ADMIN_ID, "/add_node nl1 ssh://root@203.0.113.7")
    await app.press(ADMIN_ID, check[-1], check[-1].buttons[0]["callback_data"])
    (done,) = [m for m in app.telegram.sent_to(ADMIN_ID) if "добавлен" in (m.text or "")]
    assert done.text is not None and done.text.endswith(
        "🧩 Оставлено пиров, которые уже были на интерфейсе: 2. Бот не трогает ни их, ни их "
        "адреса. Посмотреть или удалить: /foreign nl1"
    )
    assert len(fake.peers) == 2
