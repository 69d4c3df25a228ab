"""One bot process per variant: fake Bot API, real Dispatcher and SQLite, a real node adopted."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import func, select

from bench.naive import NaiveWireGuard
from bench.probe import HttpTimer, TimedSshPool, install_db_timer
from bot.app import create_bot, create_dispatcher
from bot.container import SSH_KEY_FILE, Services, open_services
from bot.settings import load_settings
from db.models import Device, Node
from nodes import SshPool, WireGuard, parse_dump
from services.audit import OPERATOR
from services.fleet import NewNode
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import LabNode

PROJECT = "project"
NAIVE = "naive"


@dataclass
class BotUnderTest:
    """A variant's bot: feed it updates one by one or all at once, read what users received."""

    variant: str
    telegram: FakeTelegram
    services: Services
    bot: Bot
    dispatcher: Dispatcher
    lab_node: LabNode
    node: Node
    own_pool: SshPool | None

    def update(self, user_id: int, text: str) -> dict[str, Any]:
        """The update Telegram would deliver when user_id writes text."""
        return self.telegram.send_text(self.telegram.user(user_id), text)

    async def feed(self, update: dict[str, Any]) -> float:
        """Process one update through the Dispatcher; seconds it took."""
        start = time.perf_counter()
        await self.dispatcher.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        return time.perf_counter() - start

    def sent_methods(self, user_id: int) -> list[str]:
        return [sent.method for sent in self.telegram.sent_to(user_id)]

    def sent_texts(self, user_id: int) -> list[str]:
        return [sent.text or "" for sent in self.telegram.sent_to(user_id)]

    async def devices(self) -> int:
        async with self.services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Device)) or 0)

    def peers_on_node(self) -> int:
        return len(parse_dump(self.lab_node.wg_dump()))

    async def close(self) -> None:
        await self.bot.session.close()
        if self.own_pool is not None:
            await self.own_pool.close()
        await self.services.close()
        await self.telegram.close()


async def open_bot(
    variant: str,
    lab_node: LabNode,
    workdir: Path,
    client_key: Path,
    name: str = "",
    **settings_overrides: Any,
) -> BotUnderTest:
    """A fresh DATA_DIR and fake Bot API; the node adopted the way `node add` does it, named
    `name` (else the variant's name); `settings_overrides` as load_settings takes them."""
    telegram = FakeTelegram()
    await telegram.start()
    name = name or variant
    data_dir = workdir / name
    data_dir.mkdir(parents=True)
    shutil.copy2(client_key, data_dir / SSH_KEY_FILE)  # the key the lab node authorises
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=data_dir,
        admin_ids="",
        **settings_overrides,
    )
    own_pool: SshPool | None = None
    wireguard: WireGuard
    if variant == PROJECT:
        own_pool = TimedSshPool(
            data_dir / SSH_KEY_FILE,
            connect_timeout=settings.node_connect_timeout,
            command_timeout=settings.node_command_timeout,
        )
        wireguard = WireGuard(own_pool)
    else:
        wireguard = NaiveWireGuard(data_dir / SSH_KEY_FILE, data_dir)
    services = await open_services(settings, wireguard=wireguard)
    install_db_timer(services.engine)
    bot = create_bot(settings)
    bot.session.middleware(HttpTimer())
    dispatcher = create_dispatcher(services, bot)
    node = await services.fleet.add(
        OPERATOR,
        NewNode(
            name=name,
            ssh_host=lab_node.ip,
            interface=lab_node.interface,
            endpoint=lab_node.endpoint,
        ),
    )
    return BotUnderTest(variant, telegram, services, bot, dispatcher, lab_node, node, own_pool)
