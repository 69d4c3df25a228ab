"""Shared fixtures: a fake Bot API, the real Dispatcher over a real SQLite file, fake nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bot.app import create_bot, create_dispatcher
from bot.container import Services, open_services
from bot.settings import Settings, load_settings
from db.models import Device, Node, User
from services.clientconfig import ClientConfig
from tests.fakes.nodes import FakeWireGuard
from tests.fakes.telegram_api import FakeTelegram

pytest_plugins = [
    "tests.nodes_support",
    "tests.postgres",
    "tests.money_support",
    "tests.page_support",
]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`--dist loadgroup`, as scripts/test.sh runs it), the network-lab tests
    share one worker and run one after another; everything else spreads over the other workers.
    (Labs of different processes can run side by side, tests/netlab.py; two lab workers were
    tried, and on a 2-core machine shared with other runs two bot start-ups of
    test_e2e_runbooks.py then missed their 30 s deadline.)"""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("lab"))


ADMIN_ID = 1000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class App:
    """One bot process under test: feed it updates, read what Telegram received and the DB."""

    telegram: FakeTelegram
    services: Services
    bot: Bot
    dispatcher: Dispatcher
    wireguard: FakeWireGuard
    clock: Clock
    settings: Settings

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )

    async def say(self, user_id: int, text: str, language: str = "ru") -> list[Any]:
        """Send a text as the user; return what the bot sent to their chat in answer."""
        before = len(self.telegram.sent_to(user_id))
        await self.feed(
            self.telegram.send_text(self.telegram.user(user_id, language_code=language), text)
        )
        return self.telegram.sent_to(user_id)[before:]

    async def press(self, user_id: int, message: Any, data: str, language: str = "ru") -> list[Any]:
        before = len(self.telegram.sent_to(user_id))
        await self.feed(
            self.telegram.press(self.telegram.user(user_id, language_code=language), message, data)
        )
        return self.telegram.sent_to(user_id)[before:]

    async def add_node(
        self, name: str, region: str = "", subnet: str = "10.8.0.1/24", v6: str | None = None
    ) -> Node:
        addresses = (subnet,) + ((v6,) if v6 else ())
        fake = self.wireguard.add_node(name, addresses)
        node = Node(
            name=name,
            region=region,
            ssh_host=f"{name}.example",
            host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTestsOnly0000000000000",
            endpoint=f"{name}.example:51820",
            public_key=fake.public_key,
            listen_port=51820,
            server_address4=subnet,
            server_address6=v6,
        )
        async with self.services.sessions.begin() as session:
            session.add(node)
        return node

    async def close(self) -> None:
        await close_bot_session(self.bot)
        await self.services.close()

    async def count(self, model: type[Any]) -> int:
        async with self.services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def user(self, user_id: int) -> User | None:
        async with self.services.sessions() as session:
            return await session.get(User, user_id)

    async def devices(self) -> list[Device]:
        async with self.services.sessions() as session:
            return list((await session.scalars(select(Device).order_by(Device.id))).all())


async def stored_config(services: Services, device_id: int) -> ClientConfig:
    """A device's config as the database holds it, whoever owns it and whatever their access."""
    async with services.sessions() as session:
        device = await session.get_one(Device, device_id, options=[joinedload(Device.node)])
    return services.configs.config(device)


async def first_config(services: Services, user_id: int) -> ClientConfig:
    """The config of the user's oldest device."""
    async with services.sessions() as session:
        device_id = await session.scalar(
            select(Device.id).where(Device.user_id == user_id).order_by(Device.id).limit(1)
        )
    assert device_id is not None, f"user {user_id} has no device"
    return await stored_config(services, device_id)


async def close_bot_session(bot: Bot) -> None:
    """Close the Bot's HTTP session at once: aiogram's close() then waits 0.25 s for TLS
    connections to wind down, and the loopback Bot API speaks plain HTTP (that wait, after every
    test, was a minute of the suite)."""
    http = bot.session._session  # type: ignore[attr-defined]
    if http is not None and not http.closed:
        await http.close()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def app(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> AsyncIterator[App]:
    world = await open_app(tmp_path, telegram, database_url)
    yield world
    await world.close()


async def open_app(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None, **settings_overrides: Any
) -> App:
    """One bot process over a fresh database (or the one another process left at `tmp_path` or
    `database_url`); `settings_overrides` as load_settings takes them."""
    settings = load_settings(
        _env_file=None,
        database_url=database_url or "",
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path / "data",
        **{"admin_ids": str(ADMIN_ID), **settings_overrides},
    )
    clock = Clock()
    wireguard = FakeWireGuard()
    services = await open_services(settings, clock=clock, wireguard=wireguard)  # type: ignore[arg-type]
    bot = create_bot(settings)
    dispatcher = create_dispatcher(services, bot)
    return App(telegram, services, bot, dispatcher, wireguard, clock, settings)
