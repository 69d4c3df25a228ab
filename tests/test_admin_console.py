"""The admin console in the chat: roles, the user card and its actions, search, invites, audit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AccessKind, AuditEntry, Device, Invite, Role, User
from handlers.filters import ADMIN_COMMANDS
from keyboards.callbacks import CardAction, CardCD, UsersCD
from services.users import UserService
from tests.conftest import ADMIN_ID, App
from tests.fakes.telegram_api import Sent

SUPPORT = 2001
USER = 2002
OTHER = 2003
ADMIN_ONLY = "Эта команда только для администраторов."


@pytest.fixture
async def world(app: App) -> App:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    await app.say(SUPPORT, "/start")
    await app.services.console.set_role(ADMIN_ID, SUPPORT, Role.SUPPORT)
    for user_id in (USER, OTHER):
        await app.services.users.grant(user_id, None, create=True)
        await app.say(user_id, "/start")
        await app.say(user_id, "/get_config")
    return app


def pause(app: App) -> None:
    """Let time pass between a non-admin's updates, so the per-user throttle stays quiet."""
    app.clock.advance(seconds=2)


def peers(app: App) -> set[str]:
    return set(app.wireguard.nodes["nl1"].peers)


async def key_of(app: App, user_id: int) -> str:
    return next(d.public_key for d in await app.devices() if d.user_id == user_id)


async def tap(app: App, who: int, message: Sent, button: str) -> Sent:
    """Press a button on a message and return that message as it is now (edited in place)."""
    await app.press(who, message, message.button(button)["callback_data"])
    return message


async def audit_rows(app: App) -> list[tuple[int, str, str]]:
    async with app.services.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(row.actor_id, row.action, row.target) for row in rows]


async def snapshot(app: App) -> list[Any]:
    async with app.services.sessions() as session:
        users = (await session.scalars(select(User).order_by(User.id))).all()
        devices = (await session.scalars(select(Device).order_by(Device.id))).all()
    return [(u.id, u.access_kind, u.access_until, u.role, u.banned) for u in users] + [
        (d.id, d.public_key) for d in devices
    ]


async def test_support_is_refused_admin_commands(world: App) -> None:
    commands = [
        "/add_node x1 ssh://root@10.0.0.1",
        "/migrate nl1 de1",
        "/drain nl1",
        "/reconcile nl1",
        "/restore_node nl1",
        "/nodes",
        "/add_user 2002 5",
        "/invite",
        "/audit",
        f"/role {USER} admin",
        f"/role {SUPPORT} admin",
    ]
    commands += [
        f"/{name} x" for name in ("broadcast", "backup", "stats") if name in ADMIN_COMMANDS
    ]
    before, peers_before = await snapshot(world), peers(world)
    for command in commands:
        pause(world)
        answer = await world.say(SUPPORT, command)
        assert [message.text for message in answer] == [ADMIN_ONLY], command
    assert await snapshot(world) == before
    assert peers(world) == peers_before
    assert await world.count(Invite) == 0


async def test_plain_user_is_refused_the_console(world: App) -> None:
    before = await snapshot(world)
    for command in ("/users", "/find Test", f"/user {OTHER}", f"/role {USER} admin", "/audit"):
        pause(world)
        answer = await world.say(USER, command)
        assert [message.text for message in answer] == [ADMIN_ONLY], command
    menu = (await world.say(USER, "/start"))[0]
    for action in (CardAction.SHOW, CardAction.EXTEND_90, CardAction.BAN):
        pause(world)
        await world.press(USER, menu, CardCD(action=action, user_id=USER, ok=True).pack())
        assert world.telegram.calls[-1].params["text"] == ADMIN_ONLY
    assert await snapshot(world) == before


async def test_support_reads_and_extends_but_cannot_revoke_ban_or_reset(world: App) -> None:
    card = (await world.say(SUPPORT, f"/user {USER}"))[0]
    texts = [button["text"] for button in card.buttons]
    assert texts == ["➕ 30 дней", "➕ 90 дней", "✉️ Написать", "🔄 Обновить"]
    assert "nl1" in card.text and "Доступ: без ограничения срока" in card.text
    before = await snapshot(world)
    for action in (CardAction.REVOKE, CardAction.BAN, CardAction.RESET):
        for ok in (False, True):
            pause(world)
            await world.press(SUPPORT, card, CardCD(action=action, user_id=USER, ok=ok).pack())
            assert world.telegram.calls[-1].params["text"] == ADMIN_ONLY
    assert await snapshot(world) == before
    assert await key_of(world, USER) in peers(world)

    await world.services.console.revoke(ADMIN_ID, OTHER)
    card = (await world.say(SUPPORT, f"/user {OTHER}"))[0]
    await tap(world, SUPPORT, card, "➕ 30 дней")
    assert card.text == "Продлить доступ Test (id 2003) на 30 дней?"
    pause(world)
    await tap(world, SUPPORT, card, "✅ Да")
    other = await world.user(OTHER)
    assert other.access_until == world.clock.now.replace(month=12, day=23)
    assert card.text.startswith("✅ Test (id 2003): доступ до 23.12.2026 12:")
    assert await key_of(world, OTHER) in peers(world), "extending restores the peer"
    assert (SUPPORT, "extend", str(OTHER)) in await audit_rows(world)

    listing = (await world.say(SUPPORT, "/users"))[0]
    assert listing.text.startswith("👥 Пользователи 1–")


async def test_revoke_then_extend_brings_back_the_same_peer(world: App) -> None:
    key, other_key = await key_of(world, USER), await key_of(world, OTHER)
    card = (await world.say(ADMIN_ID, f"/user {USER}"))[0]
    await tap(world, ADMIN_ID, card, "Отозвать")
    assert card.text.startswith("Отозвать доступ у Test (id 2002)?")
    assert key in peers(world), "nothing happens before the confirmation"
    await tap(world, ADMIN_ID, card, "✅ Да")
    assert card.text.startswith("✅ Доступ отозван.")
    user = await world.user(USER)
    assert user.access_kind is AccessKind.NONE
    assert peers(world) == {other_key}, "the revoked peer left the node at once"
    assert await world.count(Device) == 2, "the device row stays for a renewal"
    answer = await world.say(USER, "/get_config")
    assert "нет доступа" in answer[0].text

    await tap(world, ADMIN_ID, card, "➕ 90 дней")
    await tap(world, ADMIN_ID, card, "✅ Да")
    assert peers(world) == {key, other_key}, "the same public key is back"
    assert (await world.user(USER)).access_kind is AccessKind.INVITE
    told = world.telegram.sent_to(USER)[-1]
    assert told.text.startswith("🎉 Вам открыли доступ до")
    actions = [(actor, action) for actor, action, target in await audit_rows(world)]
    assert actions[-2:] == [(ADMIN_ID, "revoke"), (ADMIN_ID, "extend")]


async def test_cancel_changes_nothing(world: App) -> None:
    card = (await world.say(ADMIN_ID, f"/user {USER}"))[0]
    before = await snapshot(world)
    await tap(world, ADMIN_ID, card, "Сбросить")
    await tap(world, ADMIN_ID, card, "Отмена")
    assert card.text.startswith("👤 Test") and "(id 2002)" in card.text.splitlines()[0]
    assert await snapshot(world) == before
    assert await audit_rows(world) == [(ADMIN_ID, "role", str(SUPPORT))]


async def test_ban_blocks_the_bot_and_the_vpn_until_unban(world: App) -> None:
    key = await key_of(world, USER)
    card = (await world.say(ADMIN_ID, f"/user {USER}"))[0]
    await tap(world, ADMIN_ID, card, "Заблокировать")
    await tap(world, ADMIN_ID, card, "✅ Да")
    assert (await world.user(USER)).banned
    assert key not in peers(world)
    for text in ("/start", "/get_config", "hello"):
        answer = await world.say(USER, text)
        assert [m.text for m in answer] == [
            "⛔ Администратор заблокировал вам доступ к этому боту."
        ]
    banned = (await world.say(ADMIN_ID, "/users"))[0]
    await world.press(ADMIN_ID, banned, UsersCD(kind="ban", page=0).pack())
    assert banned.text.splitlines()[0] == "👥 Заблокированы: 1–1 из 1"
    assert f"{USER} Test · ⛔ заблокирован" in banned.text

    await tap(world, ADMIN_ID, card, "Разблокировать")
    await tap(world, ADMIN_ID, card, "✅ Да")
    assert key in peers(world)
    assert "Получить конфигурацию" in (await world.say(USER, "/start"))[0].text


async def test_reset_devices_removes_rows_and_peers(world: App) -> None:
    old_key, other_key = await key_of(world, USER), await key_of(world, OTHER)
    card = (await world.say(ADMIN_ID, f"/user {USER}"))[0]
    await tap(world, ADMIN_ID, card, "Сбросить")
    await tap(world, ADMIN_ID, card, "✅ Да")
    assert card.text.startswith("✅ Устройства удалены.")
    assert "Устройств нет." in card.text
    assert [d.user_id for d in await world.devices()] == [OTHER]
    assert peers(world) == {other_key}
    await world.say(USER, "/get_config")
    assert await key_of(world, USER) != old_key, "a fresh device on the next request"


async def test_admins_and_self_cannot_be_banned(world: App) -> None:
    card = (await world.say(ADMIN_ID, f"/user {USER}"))[0]
    before = await snapshot(world)
    for action in (CardAction.BAN, CardAction.REVOKE, CardAction.RESET):
        answer = await world.press(
            ADMIN_ID, card, CardCD(action=action, user_id=ADMIN_ID, ok=True).pack()
        )
        assert answer[-1].text == "Так нельзя: это администратор или вы сами."
    assert await snapshot(world) == before


ODD_QUERIES = [
    '"',
    "'; DROP TABLE users; --",
    "%",
    "_",
    "\\",
    "100%_\\",
    "😀",
    "<b>",
    "@",
    "x" * 500,
]


async def find(app: App, query: str) -> Sent:
    pause(app)
    answer: Sent = (await app.say(SUPPORT, f"/find {query}".strip()))[0]
    return answer


async def test_find_with_odd_input_answers_and_never_fails(world: App) -> None:
    for user_id, name, username in ((4001, "Иван 100%", "Ivan_X"), (4002, "a_b 😀", None)):
        sender = world.telegram.user(user_id, first_name=name, username=username)
        await world.feed(world.telegram.send_text(sender, "/start"))
    for query in ODD_QUERIES:
        pause(world)
        answer = await world.say(SUPPORT, f"/find {query}")
        assert len(answer) == 1, query
        assert answer[0].text.startswith(
            ("🔎 Найдено", "Никого не нашлось.", "Слишком длинный запрос", "Использование")
        ), (query, answer[0].text)
    found = (await find(world, "%")).text
    assert found.startswith("🔎 Найдено: 1") and "4001" in found, "% is a character, not a wildcard"
    found = (await find(world, "_")).text
    assert "4001" in found and "4002" in found and str(USER) not in found
    assert "4002" in (await find(world, "😀")).text
    assert "4001" in (await find(world, "ИВАН")).text, "case-insensitive Cyrillic"
    assert "4001" in (await find(world, "@ivan_x")).text
    by_id = await find(world, str(OTHER))
    assert by_id.text.startswith("🔎 Найдено: 1")
    await world.press(SUPPORT, by_id, by_id.button(f"👤 {OTHER}")["callback_data"])
    assert by_id.text.startswith("👤 Test")
    assert "Слишком длинный" in (await find(world, "я" * 500)).text
    assert (await find(world, "")).text.startswith("Использование: /find")


async def test_find_by_a_middle_substring(world: App) -> None:
    """Letters from the middle of a name or a @username find the user, in any case, and
    still after they rename themselves in Telegram (the old name then finds nobody)."""
    owl = world.telegram.user(4003, first_name="Алексей Петрович", username="Night_Owl")
    await world.feed(world.telegram.send_text(owl, "/start"))
    assert "4003" in (await find(world, "ксей пЕТ")).text
    assert "4003" in (await find(world, "ght_o")).text
    assert "4003" in (await find(world, "@HT_OW")).text
    assert (await find(world, "@ксей")).text == "Никого не нашлось.", "@ looks at usernames only"
    assert (await find(world, "ксейп")).text == "Никого не нашлось."
    pause(world)
    world.telegram.user(4003, first_name="Zoë Quartz", username="night_owl")
    await world.feed(world.telegram.send_text(owl.id, "/start"))
    assert "4003" in (await find(world, "ë qua")).text
    assert (await find(world, "Петро")).text == "Никого не нашлось."


async def test_users_filters(world: App) -> None:
    await world.services.console.revoke(ADMIN_ID, OTHER)
    async with world.services.sessions.begin() as session:
        (await session.get_one(User, USER)).bot_blocked_at = world.clock.now
    listing = (await world.say(ADMIN_ID, "/users"))[0]
    expected = {
        "no": {OTHER, SUPPORT},
        "blk": {USER},
        "act": {USER, ADMIN_ID},
        "exp": set(),
    }
    for kind, ids in expected.items():
        await world.press(ADMIN_ID, listing, UsersCD(kind=kind, page=0).pack())
        shown = {int(line.split()[0]) for line in listing.text.splitlines()[1:]}
        assert shown == ids, (kind, listing.text)
    await world.services.users.grant(OTHER, 1)
    world.clock.advance(days=2)
    await world.press(ADMIN_ID, listing, UsersCD(kind="exp", page=0).pack())
    assert listing.text.splitlines()[1].startswith(f"{OTHER} Test · нет доступа")


async def test_message_to_a_user_is_previewed_and_sent_as_text(world: App) -> None:
    card = (await world.say(SUPPORT, f"/user {USER}"))[0]
    prompt = (await world.press(SUPPORT, card, card.button("Написать")["callback_data"]))[-1]
    assert prompt.text.startswith("✉️ Напишите сообщение для Test (id 2002)")
    preview = (await world.say(SUPPORT, "Привет! <b>не жирный</b> & 100%"))[-1]
    assert preview.text.endswith("Привет! <b>не жирный</b> & 100%")
    await tap(world, SUPPORT, preview, "Отправить")
    assert preview.text == "✅ Сообщение доставлено: Test (id 2002)."
    told = world.telegram.sent_to(USER)[-1]
    assert told.text == "✉️ Сообщение от администрации:\n\nПривет! <b>не жирный</b> & 100%"
    assert (SUPPORT, "message", str(USER)) in await audit_rows(world)
    answer = await world.say(SUPPORT, "ещё")
    assert answer[-1].text.startswith("Не понял"), "the state ended with the message"

    await world.press(SUPPORT, card, card.button("Написать")["callback_data"])
    assert (await world.say(SUPPORT, "/cancel"))[-1].text == "Отменено, ничего не отправлено."


def invite_code(message: Sent) -> str:
    match = re.search(
        r"https://t\.me/vpnservice_test_bot\?start=(inv_[A-Za-z0-9_-]+)", message.text or ""
    )
    assert match, message.text
    assert len(match.group(1)) <= 64
    return match.group(1)


async def test_one_time_invite(world: App) -> None:
    created = (await world.say(ADMIN_ID, "/invite"))[0]
    assert "Доступ: 30 дн. · на 1 чел." in created.text
    code = invite_code(created)
    answer = await world.say(4101, f"/start {code}")
    assert answer[0].text.startswith("🎉 Приглашение принято!")
    user = await world.user(4101)
    assert user.access_until == world.clock.now.replace(month=12, day=23) and user.started
    second = await world.say(4102, f"/start {code}")
    assert [m.text for m in second] == ["Это приглашение уже использовано. Попросите новое."]
    assert not (await world.user(4102)).has_access(world.clock.now)
    again = await world.say(4101, f"/start {code}")
    assert again[0].text.startswith("У вас уже есть доступ")
    assert (ADMIN_ID, "invite", "") in await audit_rows(world)


async def test_invite_for_several_people_without_end(world: App) -> None:
    code = invite_code((await world.say(ADMIN_ID, "/invite 0 2"))[0])
    assert (await world.say(USER, f"/start {code}"))[0].text.startswith("У вас уже есть доступ")
    for user_id in (4201, 4202):
        assert (await world.say(user_id, f"/start {code}"))[0].text.startswith("🎉")
        user = await world.user(user_id)
        assert user.has_access(world.clock.now) and user.access_until is None
    assert "уже использовано" in (await world.say(4203, f"/start {code}"))[0].text
    async with world.services.sessions() as session:
        invite = await session.scalar(select(Invite))
    assert (invite.used, invite.max_uses) == (2, 2), "the user who had access cost no use"


async def test_unknown_expired_and_garbage_invites(world: App) -> None:
    for code in ("inv_nonexistent", "inv_", "inv_💣", "inv_" + "a" * 60):
        answer = await world.say(4301, f"/start {code}")
        assert answer[0].text.startswith("Такого приглашения нет"), code
    code = invite_code((await world.say(ADMIN_ID, "/invite 5 3"))[0])
    world.clock.advance(days=7, seconds=1)
    answer = await world.say(4301, f"/start {code}")
    assert answer[0].text == "Срок этого приглашения истёк. Попросите новое."
    assert not (await world.user(4301)).has_access(world.clock.now)
    for args in ("abc", "-1", "5 0", "5 1001", "99999", "1 2 3"):
        answer = await world.say(ADMIN_ID, f"/invite {args}")
        assert answer[0].text.startswith("Использование: /invite"), args


async def test_roles_granted_and_taken_in_the_chat(world: App) -> None:
    answer = await world.say(ADMIN_ID, f"/role {USER} support")
    assert answer[0].text == "✅ Test (id 2002): user → support."
    assert (await world.say(USER, "/users"))[0].text.startswith("👥 Пользователи")
    await world.say(ADMIN_ID, f"/role {USER} user")
    assert [m.text for m in await world.say(USER, "/users")] == [ADMIN_ONLY]
    answer = await world.say(ADMIN_ID, f"/role {ADMIN_ID} user")
    assert "задана в настройках" in answer[0].text
    assert (await world.say(ADMIN_ID, "/role 777 admin"))[0].text.startswith("Пользователя 777 нет")
    assert (await world.say(ADMIN_ID, f"/role {USER} king"))[0].text.startswith("Использование")
    await world.say(ADMIN_ID, f"/role {USER} admin")
    assert (await world.user(USER)).role is Role.ADMIN
    assert "Журнал" in (await world.say(USER, "/audit"))[0].text

    settings_support = UserService(world.services.sessions, frozenset(), support_ids=frozenset({9}))
    assert settings_support.role_of(User(id=9, role=Role.USER)) is Role.SUPPORT
    assert settings_support.role_from_settings(9) is Role.SUPPORT


async def test_audit_log_lists_actions_in_pages(world: App) -> None:
    await world.say(ADMIN_ID, "/reconcile nl1")
    await world.say(ADMIN_ID, "/add_user 2003 10")
    for _ in range(15):
        await world.services.console.grant(SUPPORT, USER, 1)
    rows = await audit_rows(world)
    assert rows[:3] == [
        (ADMIN_ID, "role", str(SUPPORT)),
        (ADMIN_ID, "reconcile", "nl1"),
        (ADMIN_ID, "add_user", str(OTHER)),
    ]
    first = (await world.say(ADMIN_ID, "/audit"))[0]
    lines = first.text.splitlines()
    assert lines[0] == "📜 Журнал действий, страница 1 из 2 (всего 18)"
    assert lines[1].startswith(f"23.11.2026 12:00 UTC · {SUPPORT} · выдал доступ · {USER} days=1")
    await tap(world, ADMIN_ID, first, "Вперёд")
    lines = first.text.splitlines()
    assert lines[0] == "📜 Журнал действий, страница 2 из 2 (всего 18)"
    assert lines[-1].startswith(f"23.11.2026 12:00 UTC · {ADMIN_ID} · сменил роль · {SUPPORT}")
    assert "preshared" not in first.text.lower() and "private" not in first.text.lower()
