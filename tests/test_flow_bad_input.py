"""Bad input gets a clear answer in the user's language and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db.models import Device, Node, User
from keyboards.callbacks import GrantCD, ServerCD, UsersCD
from tests.conftest import ADMIN_ID, App

USER = 3001
OTHER = 3002


async def snapshot(app: App) -> list[tuple[Any, ...]]:
    async with app.services.sessions() as session:
        users = (await session.scalars(select(User).order_by(User.id))).all()
        devices = (await session.scalars(select(Device).order_by(Device.id))).all()
        nodes = (await session.scalars(select(Node).order_by(Node.id))).all()
    return (
        [(u.id, u.access_kind, u.access_until, u.role, u.preferred_node_id) for u in users]
        + [(d.id, d.user_id, d.node_id, d.public_key, d.address4) for d in devices]
        + [(n.id, n.name, n.status) for n in nodes]
    )


@pytest.fixture
async def world(app: App) -> App:
    await app.add_node("nl1")
    for user_id in (USER, OTHER):
        await app.services.users.grant(user_id, None, create=True)
        await app.say(user_id, "/get_config")
    await app.say(ADMIN_ID, "/start")
    return app


@pytest.mark.parametrize(
    "command",
    [
        "/add_user 3001 5",
        "/users",
        "/nodes",
        "/add_node x1 ssh://root@10.0.0.1",
        "/reconcile nl1",
        "/restore_node nl1",
        "/migrate nl1 de1",
        "/drain nl1",
    ],
)
async def test_non_admin_is_refused_admin_commands(world: App, command: str) -> None:
    before = await snapshot(world)
    answer = await world.say(USER, command)
    assert [message.text for message in answer] == ["Эта команда только для администраторов."]
    assert await snapshot(world) == before


async def test_non_admin_forged_admin_buttons_are_refused(world: App) -> None:
    menu = (await world.say(USER, "/start"))[0]
    before = await snapshot(world)
    for data in (GrantCD(user_id=USER, days=0).pack(), UsersCD(kind="all", page=0).pack()):
        await world.press(USER, menu, data)
        answer = world.telegram.calls[-1]
        assert answer.method == "answerCallbackQuery"
        assert answer.params["text"] == "Эта команда только для администраторов."
    assert await snapshot(world) == before


@pytest.mark.parametrize(
    "args",
    [
        "",
        "abc",
        "-5",
        "3001 -3",
        "3001 0",
        "3001 99999",
        "3001 5 6",
        "１２３",
        "3001 1e3",
        "99999999999999999999999",
        "x" * 5000,
    ],
)
async def test_add_user_garbage_gets_usage_and_changes_nothing(world: App, args: str) -> None:
    before = await snapshot(world)
    answer = await world.say(ADMIN_ID, f"/add_user {args}".strip())
    assert len(answer) == 1 and "/add_user ID [дни]" in answer[0].text
    assert await snapshot(world) == before


async def test_add_user_unknown_user_is_explained(world: App) -> None:
    before = await snapshot(world)
    answer = await world.say(ADMIN_ID, "/add_user 777000")
    assert "777000 ещё не запускал бота" in answer[0].text
    assert await snapshot(world) == before


async def test_forged_server_button_for_missing_node(world: App) -> None:
    menu = (await world.say(USER, "/start"))[0]
    before = await snapshot(world)
    answer = await world.press(USER, menu, ServerCD(node_id=99).pack())
    assert "Этого сервера больше нет" in answer[-1].text
    assert await snapshot(world) == before


@pytest.mark.parametrize(
    "data", ["srv:abc", "srv:", "gr:1:x", "nonsense", "m:zzz", "lang:de", "srv:1:2"]
)
async def test_garbage_callback_data_is_a_stale_button(world: App, data: str) -> None:
    menu = (await world.say(USER, "/start"))[0]
    before = await snapshot(world)
    await world.press(USER, menu, data)
    answer = world.telegram.calls[-1]
    assert answer.method == "answerCallbackQuery"
    assert answer.params["text"] == "Эта кнопка устарела. Откройте меню заново: /start"
    assert await snapshot(world) == before


async def test_user_cannot_touch_another_users_device(world: App) -> None:
    """Every action acts on the caller's own device: no id in a button can name someone else's."""
    menu = (await world.say(USER, "/start"))[0]
    other_before = [d for d in await world.devices() if d.user_id == OTHER]
    await world.press(USER, menu, "rg:ok")
    other_after = [d for d in await world.devices() if d.user_id == OTHER]
    assert [(d.public_key, d.address4) for d in other_after] == [
        (d.public_key, d.address4) for d in other_before
    ]
    assert other_after[0].public_key in world.wireguard.nodes["nl1"].peers


async def test_very_long_message_is_answered_briefly(world: App) -> None:
    before = await snapshot(world)
    answer = await world.say(USER, "я" * 5000)
    assert [message.text for message in answer] == ["Не понял. Воспользуйтесь меню или /help."]
    assert await snapshot(world) == before


async def test_user_without_access_cannot_get_config(app: App) -> None:
    await app.add_node("nl1")
    answer = await app.say(USER, "/get_config")
    assert "нет доступа" in answer[0].text
    assert await app.count(Device) == 0
    assert app.wireguard.nodes["nl1"].peers == {}


async def test_no_nodes_is_explained(app: App) -> None:
    await app.services.users.grant(USER, None, create=True)
    answer = await app.say(USER, "/get_config")
    assert "нет ни одного доступного сервера" in answer[0].text


@pytest.mark.parametrize(
    "args",
    [
        "",
        "x1",
        "x1 http://root@10.0.0.1",
        "UPPER ssh://root@10.0.0.1",
        "x1 ssh://root@10.0.0.1 port=0",
        "x1 ssh://root@10.0.0.1 port=abc",
        "x1 ssh://root@10.0.0.1 subnet=10.8.0.0/24",
        "x1 ssh://root@10.0.0.1 subnet=10.8.0.1/31",
        "x1 ssh://root@10.0.0.1 iface=bad;rm",
        "x1 ssh://root@10.0.0.1 colour=red",
        "x1 ssh://root;reboot@10.0.0.1",
        "x1 ssh://root@10.0.0.1:99999",
        "nl1 ssh://root@10.0.0.1",
    ],
)
async def test_add_node_garbage_gets_usage_and_changes_nothing(world: App, args: str) -> None:
    before = await snapshot(world)
    answer = await world.say(ADMIN_ID, f"/add_node {args}".strip())
    assert len(answer) == 1
    expected = "Сервер nl1 уже есть." if args.startswith("nl1") else "Использование: /add_node ИМЯ"
    assert answer[0].text.startswith(expected)
    assert await snapshot(world) == before
