"""Capacity no account can exhaust: the default pool, one device per trial, trials holding at
most TRIAL_SHARE of a node, TRIALS_PER_HOUR with one alert, "node full" once an hour, and the
addresses of users long without access given back and renewed."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AccessKind, Device, User
from handlers.admin_nodes import parse_new_node
from main import parse_args
from services.addresses import pool_size
from services.fleet import NewNode
from tests.conftest import ADMIN_ID, App, open_app
from tests.fakes.telegram_api import FakeTelegram
from tests.money_support import Shop
from tests.test_flow_user import parse_conf
from tests.test_money_flow import pay_stars

ROOT = Path(__file__).resolve().parents[1]
FLOOD = 130
FIRST = 8000  # the flood's first Telegram id
INVITED = 8999
TRIAL_STARTED = "Пробный доступ открыт"
BUSY = (
    "Сейчас пробный период берут слишком многие. "
    "Попробуйте через час или оформите полный доступ: /subscribe"
)
TAKEN = "Места для пробного периода сейчас заняты. Попробуйте позже или оформите полный доступ: /subscribe"
CAP_ALERT = "(TRIALS_PER_HOUR)"
FULL_ALERT = "закончились адреса"


def test_a_bootstrapped_node_holds_at_least_4000_devices() -> None:
    """NewNode's default, `node add --subnet`'s, /add_node's and node-setup.sh's."""
    subnets = [
        NewNode("nl1", "203.0.113.7").subnet4,
        parse_args(["node", "add", "nl1", "ssh://root@203.0.113.7"]).subnet,
        parse_new_node("nl1 ssh://root@203.0.113.7").subnet4,
    ]
    script = (ROOT / "scripts" / "node-setup.sh").read_text()
    (default,) = re.findall(r"WG_ADDRESS=\$\{WG_ADDRESS:-([0-9./]+)\}", script)
    subnets.append(default)
    for subnet in subnets:
        assert pool_size(subnet) >= 4000, subnet
        assert ipaddress.ip_interface(subnet).ip == ipaddress.ip_interface(subnets[0]).ip


@pytest.fixture
async def no_cap(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> AsyncIterator[App]:
    world = await open_app(tmp_path, telegram, database_url, trials_per_hour=0)
    yield world
    await world.close()


async def two_small_nodes(app: App) -> None:
    await app.add_node("nl1", subnet="10.8.0.1/26")  # 61 devices each
    await app.add_node("de1", subnet="10.9.0.1/26")


async def flood(app: App) -> dict[int, list[Any]]:
    """130 fresh accounts, ten at a time, each sending /start, /trial, /get_config in turn."""
    at_once = asyncio.Semaphore(10)

    async def one(user_id: int) -> list[Any]:
        app.telegram.user(user_id)
        async with at_once:
            answers = await app.say(user_id, "/start")
            answers += await app.say(user_id, "/trial")
            answers += await app.say(user_id, "/get_config")
        return answers

    ids = range(FIRST, FIRST + FLOOD)
    return dict(zip(ids, await asyncio.gather(*(one(user_id) for user_id in ids)), strict=True))


def texts(answers: list[Any]) -> list[str]:
    return [message.text or "" for message in answers if message.text]


def unanswered(answers: dict[int, list[Any]], told: list[int]) -> dict[int, list[str]]:
    """Who got neither a config nor a clear no, and what they got instead."""
    return {user: texts(sent) for user, sent in answers.items() if user not in told}


def got_config(answers: list[Any]) -> bool:
    return any(message.document is not None for message in answers)


async def invited_user_gets_a_config(app: App) -> None:
    created = (await app.say(ADMIN_ID, "/invite"))[0]
    match = re.search(r"start=(inv_[A-Za-z0-9_-]+)", created.text or "")
    assert match, created.text
    assert "Приглашение принято" in texts(await app.say(INVITED, f"/start {match.group(1)}"))[0]
    sent = await app.say(INVITED, "/get_config")
    assert [message.method for message in sent] == ["sendDocument", "sendPhoto"], texts(sent)


def admin_texts(app: App, fragment: str) -> list[str]:
    return [m.text or "" for m in app.telegram.sent_to(ADMIN_ID) if fragment in (m.text or "")]


async def trial_devices_per_node(app: App) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with app.services.sessions() as session:
        rows = await session.execute(select(Device, User).join(User, User.id == Device.user_id))
        for device, user in rows.all():
            if user.access_kind is AccessKind.TRIAL:
                name = "nl1" if device.address4.startswith("10.8.") else "de1"
                counts[name] = counts.get(name, 0) + 1
    return counts


async def test_a_trial_flood_is_capped_per_hour_with_one_alert(app: App) -> None:
    await two_small_nodes(app)
    await app.say(ADMIN_ID, "/start")
    answers = await flood(app)

    served = [user for user, sent in answers.items() if got_config(sent)]
    refused = [user for user, sent in answers.items() if BUSY in texts(sent)]
    assert len(served) == 20, "TRIALS_PER_HOUR is 20 by default"
    assert sorted(served + refused) == list(answers), unanswered(answers, served + refused)
    for user in refused:
        assert not any(TRIAL_STARTED in text for text in texts(answers[user]))
        stored = await app.user(user)
        assert stored is not None and stored.trial_used_at is None, "a refused trial stays"
    assert len(admin_texts(app, CAP_ALERT)) == 1, "one alert, not one per refused user"
    assert admin_texts(app, FULL_ALERT) == []
    assert await app.count(Device) == 20

    await invited_user_gets_a_config(app)

    # an hour on, trials open again; the next cap hit alerts once more
    app.clock.advance(minutes=61)
    again = FIRST + FLOOD
    await app.say(again, "/start")
    assert TRIAL_STARTED in texts(await app.say(again, "/trial"))[0]
    (config,) = [m for m in await app.say(again, "/get_config") if m.document is not None]
    assert config.document is not None


async def test_trials_hold_at_most_their_share_of_each_node(no_cap: App) -> None:
    app = no_cap
    await two_small_nodes(app)
    await app.say(ADMIN_ID, "/start")
    answers = await flood(app)

    assert await trial_devices_per_node(app) == {"nl1": 30, "de1": 30}, "half of 61 each"
    served = [user for user, sent in answers.items() if got_config(sent)]
    taken = [user for user, sent in answers.items() if TAKEN in texts(sent)]
    assert len(served) == 60
    assert sorted(served + taken) == list(answers), unanswered(answers, served + taken)
    assert len(admin_texts(app, FULL_ALERT)) <= 2 and admin_texts(app, CAP_ALERT) == []

    await invited_user_gets_a_config(app)
    # a trial gets one device
    (listing,) = await app.say(served[0], "/devices")
    assert "Ваши устройства: 1 из 1" in (listing.text or "")
    assert "Добавить" not in " ".join(b["text"] for b in listing.buttons)


async def address_of(app: App, user_id: int) -> str | None:
    async with app.services.sessions() as session:
        return await session.scalar(select(Device.address4).where(Device.user_id == user_id))


async def test_addresses_of_users_31_days_without_access_go_to_others_and_come_back_new(
    shop: Shop,
) -> None:
    app = shop.app
    await app.add_node("nl1", subnet="10.8.0.1/29")  # 5 devices
    gone, stays, newcomer = 8101, 8102, 8103
    await app.services.users.grant(gone, 30, create=True)
    await app.services.users.grant(stays, None, create=True)
    for user in (gone, stays, newcomer):
        app.telegram.user(user)
    await app.say(gone, "/get_config")
    old_config = await app.say(gone, "/get_config")
    await app.say(stays, "/get_config")
    assert await address_of(app, gone) == "10.8.0.2"

    app.clock.advance(days=30 + 29)  # access ended 29 days ago: not yet
    await app.services.reminders.run()
    assert await app.services.reclaim.run() == 0
    assert await address_of(app, gone) == "10.8.0.2"
    app.clock.advance(days=2)  # 31 days
    assert await app.services.reclaim.run() == 1
    assert await address_of(app, gone) is None
    assert await address_of(app, stays) == "10.8.0.3", "users with access keep theirs"
    keys_before = [d.public_key for d in await app.devices() if d.user_id == gone]
    assert await app.services.reclaim.run() == 0

    await app.services.users.grant(newcomer, None, create=True)
    await app.say(newcomer, "/get_config")
    assert await address_of(app, newcomer) == "10.8.0.2", "the address went to another user"
    result = await app.services.reconcile.reconcile_all()
    assert all(item.error is None for item in result)
    assert len(app.wireguard.nodes["nl1"].peers) == 2

    sent = await pay_stars(shop, gone)  # the renewal
    notice = next(m for m in sent if "Импортируйте её заново" in (m.text or ""))
    assert "адрес вашего устройства на сервере nl1 отдали другому" in (notice.text or "")
    document = next(m for m in sent if m.document is not None)
    new = parse_conf(document.document.content.decode())
    assert new["Interface"]["Address"] == "10.8.0.4/32"
    assert await address_of(app, gone) == "10.8.0.4"
    assert [d.public_key for d in await app.devices() if d.user_id == gone] == keys_before
    old = parse_conf(old_config[0].document.content.decode())
    assert new["Interface"]["PrivateKey"] == old["Interface"]["PrivateKey"], "keys kept"
    peers = app.wireguard.nodes["nl1"].peers
    assert peers[keys_before[0]].allowed_ips == ("10.8.0.4/32",)
    again = await app.say(gone, "/get_config")
    assert again[0].document.content.decode() == document.document.content.decode()


async def test_a_returning_device_that_finds_no_room_waits_and_get_config_gives_it_one(
    app: App,
) -> None:
    await app.add_node("tiny", subnet="10.8.0.1/30")  # one device
    gone, newcomer = 8201, 8202
    await app.say(ADMIN_ID, "/start")
    await app.services.users.grant(gone, 30, create=True)
    await app.say(gone, "/get_config")
    app.clock.advance(days=30 + 31)
    assert await app.services.reclaim.run() == 1
    await app.services.users.grant(newcomer, None, create=True)
    await app.say(newcomer, "/get_config")

    await app.say(ADMIN_ID, f"/add_user {gone} 30")  # back, but no address is free
    assert not [m for m in app.telegram.sent_to(gone) if "заново" in (m.text or "")]
    assert await address_of(app, gone) is None
    assert len(admin_texts(app, FULL_ALERT)) == 1
    (status,) = await app.say(gone, "/status")
    assert "нет: освобождён после долгого перерыва в доступе" in (status.text or "")
    refused = await app.say(gone, "/get_config")
    assert texts(refused) == [
        "Свободных мест на серверах сейчас нет. Администраторы уже знают — попробуйте позже."
    ]

    (device,) = await app.services.devices.devices_of(newcomer)
    await app.services.devices.remove(newcomer, device.id)
    sent = await app.say(gone, "/get_config")
    document = next(m for m in sent if m.document is not None)
    assert parse_conf(document.document.content.decode())["Interface"]["Address"] == "10.8.0.2/32"
    (mine,) = await app.services.devices.devices_of(gone)
    assert set(app.wireguard.nodes["tiny"].peers) == {mine.public_key}
